// Original file: ../../protos/productsearch/v1/product_search.proto


/**
 * ModelInfo describes a served model.
 */
export interface ModelInfo {
  /**
   * name of the model in Triton.
   */
  'name'?: (string);
  /**
   * version: the sha256 prefix of its ONNX file (for a projection: its version number).
   */
  'version'?: (string);
  /**
   * dimension of its embeddings.
   */
  'dimension'?: (number);
}

/**
 * ModelInfo describes a served model.
 */
export interface ModelInfo__Output {
  /**
   * name of the model in Triton.
   */
  'name': (string);
  /**
   * version: the sha256 prefix of its ONNX file (for a projection: its version number).
   */
  'version': (string);
  /**
   * dimension of its embeddings.
   */
  'dimension': (number);
}
