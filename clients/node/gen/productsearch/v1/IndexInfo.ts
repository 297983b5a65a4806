// Original file: ../../protos/productsearch/v1/product_search.proto

import type { Long } from '@grpc/proto-loader';

/**
 * IndexInfo describes one HNSW index.
 */
export interface IndexInfo {
  /**
   * space: "image" or "title".
   */
  'space'?: (string);
  /**
   * model whose embeddings it holds.
   */
  'model'?: (string);
  /**
   * count of live vectors.
   */
  'count'?: (number | string | Long);
  /**
   * capacity before the index grows.
   */
  'capacity'?: (number | string | Long);
  /**
   * m: HNSW graph degree.
   */
  'm'?: (number);
  /**
   * ef_construction used when inserting.
   */
  'efConstruction'?: (number);
  /**
   * ef_search used when querying.
   */
  'efSearch'?: (number);
}

/**
 * IndexInfo describes one HNSW index.
 */
export interface IndexInfo__Output {
  /**
   * space: "image" or "title".
   */
  'space': (string);
  /**
   * model whose embeddings it holds.
   */
  'model': (string);
  /**
   * count of live vectors.
   */
  'count': (string);
  /**
   * capacity before the index grows.
   */
  'capacity': (string);
  /**
   * m: HNSW graph degree.
   */
  'm': (number);
  /**
   * ef_construction used when inserting.
   */
  'efConstruction': (number);
  /**
   * ef_search used when querying.
   */
  'efSearch': (number);
}
