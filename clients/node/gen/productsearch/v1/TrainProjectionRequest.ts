// Original file: ../../protos/productsearch/v1/product_search.proto


/**
 * TrainProjectionRequest chooses how to fit the projection.
 */
export interface TrainProjectionRequest {
  /**
   * method: "contrastive" (InfoNCE started from ridge; the default when empty) or "ridge".
   */
  'method'?: (string);
  /**
   * catalog is the resource name of the catalog, `catalogs/{catalog_id}`; empty means
   * `catalogs/default`. NOT_FOUND when it does not exist, PERMISSION_DENIED when the API key
   * is limited to other catalogs.
   */
  'catalog'?: (string);
}

/**
 * TrainProjectionRequest chooses how to fit the projection.
 */
export interface TrainProjectionRequest__Output {
  /**
   * method: "contrastive" (InfoNCE started from ridge; the default when empty) or "ridge".
   */
  'method': (string);
  /**
   * catalog is the resource name of the catalog, `catalogs/{catalog_id}`; empty means
   * `catalogs/default`. NOT_FOUND when it does not exist, PERMISSION_DENIED when the API key
   * is limited to other catalogs.
   */
  'catalog': (string);
}
