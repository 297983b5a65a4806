// Original file: ../../protos/productsearch/v1/product_search.proto

import type { SearchOptions as _productsearch_v1_SearchOptions, SearchOptions__Output as _productsearch_v1_SearchOptions__Output } from '../../productsearch/v1/SearchOptions';

/**
 * SearchSimilarRequest asks for products that look like a catalog product.
 */
export interface SearchSimilarRequest {
  /**
   * product_id of the catalog product; it is left out of the hits.
   */
  'productId'?: (string);
  /**
   * options: top_k, filter, min_score.
   */
  'options'?: (_productsearch_v1_SearchOptions | null);
  /**
   * catalog is the resource name of the catalog, `catalogs/{catalog_id}`; empty means
   * `catalogs/default`. NOT_FOUND when it does not exist, PERMISSION_DENIED when the API key
   * is limited to other catalogs.
   */
  'catalog'?: (string);
}

/**
 * SearchSimilarRequest asks for products that look like a catalog product.
 */
export interface SearchSimilarRequest__Output {
  /**
   * product_id of the catalog product; it is left out of the hits.
   */
  'productId': (string);
  /**
   * options: top_k, filter, min_score.
   */
  'options': (_productsearch_v1_SearchOptions__Output | null);
  /**
   * catalog is the resource name of the catalog, `catalogs/{catalog_id}`; empty means
   * `catalogs/default`. NOT_FOUND when it does not exist, PERMISSION_DENIED when the API key
   * is limited to other catalogs.
   */
  'catalog': (string);
}
