// Original file: ../../protos/productsearch/v1/product_search.proto

import type { Catalog as _productsearch_v1_Catalog, Catalog__Output as _productsearch_v1_Catalog__Output } from '../../productsearch/v1/Catalog';

/**
 * GetCatalogResponse returns it.
 */
export interface GetCatalogResponse {
  /**
   * catalog with its product count.
   */
  'catalog'?: (_productsearch_v1_Catalog | null);
}

/**
 * GetCatalogResponse returns it.
 */
export interface GetCatalogResponse__Output {
  /**
   * catalog with its product count.
   */
  'catalog': (_productsearch_v1_Catalog__Output | null);
}
