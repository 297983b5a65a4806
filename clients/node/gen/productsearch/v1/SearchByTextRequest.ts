// Original file: ../../protos/productsearch/v1/product_search.proto

import type { SearchOptions as _productsearch_v1_SearchOptions, SearchOptions__Output as _productsearch_v1_SearchOptions__Output } from '../../productsearch/v1/SearchOptions';

/**
 * SearchByTextRequest is a keyword query. It matches titles ("title" signal) and, once a
 * projection is trained, product images through it ("image" signal), so products without
 * titles are found too; a hit's score is its best signal's cosine similarity.
 */
export interface SearchByTextRequest {
  /**
   * text: 1 to 1,000 characters, any of the text encoder's languages (e.g. 运动鞋, red sneakers).
   */
  'text'?: (string);
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
 * SearchByTextRequest is a keyword query. It matches titles ("title" signal) and, once a
 * projection is trained, product images through it ("image" signal), so products without
 * titles are found too; a hit's score is its best signal's cosine similarity.
 */
export interface SearchByTextRequest__Output {
  /**
   * text: 1 to 1,000 characters, any of the text encoder's languages (e.g. 运动鞋, red sneakers).
   */
  'text': (string);
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
