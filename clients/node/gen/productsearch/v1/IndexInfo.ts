// Original file: ../../protos/productsearch/v1/product_search.proto

import type { Long } from '@grpc/proto-loader';

/**
 * IndexInfo describes the vector store of one embedding space.
 */
export interface IndexInfo {
  /**
   * space: "image", "title" or "copy".
   */
  'space'?: (string);
  /**
   * model whose embeddings it holds ("gray16" for copy descriptors).
   */
  'model'?: (string);
  /**
   * count of products with a vector in this space.
   */
  'count'?: (number | string | Long);
  /**
   * model_version of the vectors: the sha256 prefix of the model's ONNX file.
   */
  'modelVersion'?: (string);
  /**
   * dimension of the vectors.
   */
  'dimension'?: (number);
  /**
   * engine holding them: "hnswlib" (embedded) or another vector store.
   */
  'engine'?: (string);
  /**
   * parameters are the engine's own settings and figures, as text (for hnswlib: M,
   * ef_construction, ef_search, capacity, deleted_slots, exact_search_max, distinct_vectors).
   */
  'parameters'?: ({[key: string]: string});
}

/**
 * IndexInfo describes the vector store of one embedding space.
 */
export interface IndexInfo__Output {
  /**
   * space: "image", "title" or "copy".
   */
  'space': (string);
  /**
   * model whose embeddings it holds ("gray16" for copy descriptors).
   */
  'model': (string);
  /**
   * count of products with a vector in this space.
   */
  'count': (string);
  /**
   * model_version of the vectors: the sha256 prefix of the model's ONNX file.
   */
  'modelVersion': (string);
  /**
   * dimension of the vectors.
   */
  'dimension': (number);
  /**
   * engine holding them: "hnswlib" (embedded) or another vector store.
   */
  'engine': (string);
  /**
   * parameters are the engine's own settings and figures, as text (for hnswlib: M,
   * ef_construction, ef_search, capacity, deleted_slots, exact_search_max, distinct_vectors).
   */
  'parameters': ({[key: string]: string});
}
