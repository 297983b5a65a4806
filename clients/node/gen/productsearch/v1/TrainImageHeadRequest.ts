// Original file: ../../protos/productsearch/v1/product_search.proto


/**
 * TrainImageHeadRequest names the catalog whose image head to train.
 */
export interface TrainImageHeadRequest {
  /**
   * catalog is the resource name of the catalog, `catalogs/{catalog_id}`; empty means
   * `catalogs/default`. NOT_FOUND when it does not exist, PERMISSION_DENIED when the API key
   * is limited to other catalogs.
   */
  'catalog'?: (string);
}

/**
 * TrainImageHeadRequest names the catalog whose image head to train.
 */
export interface TrainImageHeadRequest__Output {
  /**
   * catalog is the resource name of the catalog, `catalogs/{catalog_id}`; empty means
   * `catalogs/default`. NOT_FOUND when it does not exist, PERMISSION_DENIED when the API key
   * is limited to other catalogs.
   */
  'catalog': (string);
}
