// Original file: ../../protos/productsearch/v1/product_search.proto


/**
 * TrainProjectionRequest chooses how to fit the projection.
 */
export interface TrainProjectionRequest {
  /**
   * method: "contrastive" (InfoNCE started from ridge; the default when empty) or "ridge".
   */
  'method'?: (string);
}

/**
 * TrainProjectionRequest chooses how to fit the projection.
 */
export interface TrainProjectionRequest__Output {
  /**
   * method: "contrastive" (InfoNCE started from ridge; the default when empty) or "ridge".
   */
  'method': (string);
}
