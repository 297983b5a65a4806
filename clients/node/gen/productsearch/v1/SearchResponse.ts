// Original file: ../../protos/productsearch/v1/product_search.proto

import type { SearchHit as _productsearch_v1_SearchHit, SearchHit__Output as _productsearch_v1_SearchHit__Output } from '../../productsearch/v1/SearchHit';

/**
 * SearchResponse carries the ranked hits.
 */
export interface SearchResponse {
  /**
   * hits, best first.
   */
  'hits'?: (_productsearch_v1_SearchHit)[];
  /**
   * embedding_ms is the time spent computing the query's embedding.
   */
  'embeddingMs'?: (number | string);
  /**
   * index_ms is the time spent in the index.
   */
  'indexMs'?: (number | string);
}

/**
 * SearchResponse carries the ranked hits.
 */
export interface SearchResponse__Output {
  /**
   * hits, best first.
   */
  'hits': (_productsearch_v1_SearchHit__Output)[];
  /**
   * embedding_ms is the time spent computing the query's embedding.
   */
  'embeddingMs': (number);
  /**
   * index_ms is the time spent in the index.
   */
  'indexMs': (number);
}
