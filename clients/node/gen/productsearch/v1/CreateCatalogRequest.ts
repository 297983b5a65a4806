// Original file: ../../protos/productsearch/v1/product_search.proto

import type { Catalog as _productsearch_v1_Catalog, Catalog__Output as _productsearch_v1_Catalog__Output } from '../../productsearch/v1/Catalog';

/**
 * CreateCatalogRequest names and describes the new catalog.
 */
export interface CreateCatalogRequest {
  /**
   * catalog_id becomes the last part of the name: 1 to 63 lower-case letters, digits and
   * hyphens, starting with a letter and not ending with a hyphen (e.g. "shop-a").
   */
  'catalogId'?: (string);
  /**
   * catalog carries `display_name` and `description`; other fields are ignored.
   */
  'catalog'?: (_productsearch_v1_Catalog | null);
}

/**
 * CreateCatalogRequest names and describes the new catalog.
 */
export interface CreateCatalogRequest__Output {
  /**
   * catalog_id becomes the last part of the name: 1 to 63 lower-case letters, digits and
   * hyphens, starting with a letter and not ending with a hyphen (e.g. "shop-a").
   */
  'catalogId': (string);
  /**
   * catalog carries `display_name` and `description`; other fields are ignored.
   */
  'catalog': (_productsearch_v1_Catalog__Output | null);
}
