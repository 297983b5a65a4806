// Original file: ../../protos/productsearch/v1/product_search.proto


/**
 * GetStatsRequest names the catalog to describe.
 */
export interface GetStatsRequest {
  /**
   * catalog is the resource name of the catalog, `catalogs/{catalog_id}`; empty means
   * `catalogs/default`. NOT_FOUND when it does not exist, PERMISSION_DENIED when the API key
   * is limited to other catalogs.
   */
  'catalog'?: (string);
}

/**
 * GetStatsRequest names the catalog to describe.
 */
export interface GetStatsRequest__Output {
  /**
   * catalog is the resource name of the catalog, `catalogs/{catalog_id}`; empty means
   * `catalogs/default`. NOT_FOUND when it does not exist, PERMISSION_DENIED when the API key
   * is limited to other catalogs.
   */
  'catalog': (string);
}
