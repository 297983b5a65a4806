// Original file: ../../protos/productsearch/v1/product_search.proto

import type { Catalog as _productsearch_v1_Catalog, Catalog__Output as _productsearch_v1_Catalog__Output } from '../../productsearch/v1/Catalog';

/**
 * CreateCatalogResponse returns the new catalog.
 */
export interface CreateCatalogResponse {
  /**
   * catalog as created.
   */
  'catalog'?: (_productsearch_v1_Catalog | null);
}

/**
 * CreateCatalogResponse returns the new catalog.
 */
export interface CreateCatalogResponse__Output {
  /**
   * catalog as created.
   */
  'catalog': (_productsearch_v1_Catalog__Output | null);
}
