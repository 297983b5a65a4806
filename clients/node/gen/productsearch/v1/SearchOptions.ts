// Original file: ../../protos/productsearch/v1/product_search.proto

import type { Filter as _productsearch_v1_Filter, Filter__Output as _productsearch_v1_Filter__Output } from '../../productsearch/v1/Filter';

/**
 * SearchOptions are shared by every search.
 */
export interface SearchOptions {
  /**
   * top_k is the number of hits wanted: 1 to 1,000; 0 means 10. Fewer come back only when
   * fewer products match the filter and `min_score`.
   */
  'topK'?: (number);
  /**
   * filter restricts the hits; optional.
   */
  'filter'?: (_productsearch_v1_Filter | null);
  /**
   * min_score drops signals whose cosine similarity is below it (-1 to 1), and hits left
   * with none; 0 keeps all.
   */
  'minScore'?: (number | string);
  /**
   * include_thumbnails fills `Product.thumbnail` in the hits.
   */
  'includeThumbnails'?: (boolean);
}

/**
 * SearchOptions are shared by every search.
 */
export interface SearchOptions__Output {
  /**
   * top_k is the number of hits wanted: 1 to 1,000; 0 means 10. Fewer come back only when
   * fewer products match the filter and `min_score`.
   */
  'topK': (number);
  /**
   * filter restricts the hits; optional.
   */
  'filter': (_productsearch_v1_Filter__Output | null);
  /**
   * min_score drops signals whose cosine similarity is below it (-1 to 1), and hits left
   * with none; 0 keeps all.
   */
  'minScore': (number);
  /**
   * include_thumbnails fills `Product.thumbnail` in the hits.
   */
  'includeThumbnails': (boolean);
}
