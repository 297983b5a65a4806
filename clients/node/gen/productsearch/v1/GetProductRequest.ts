// Original file: ../../protos/productsearch/v1/product_search.proto


/**
 * GetProductRequest names one product.
 */
export interface GetProductRequest {
  /**
   * id of the product.
   */
  'id'?: (string);
  /**
   * catalog is the resource name of the catalog, `catalogs/{catalog_id}`; empty means
   * `catalogs/default`. NOT_FOUND when it does not exist, PERMISSION_DENIED when the API key
   * is limited to other catalogs.
   */
  'catalog'?: (string);
}

/**
 * GetProductRequest names one product.
 */
export interface GetProductRequest__Output {
  /**
   * id of the product.
   */
  'id': (string);
  /**
   * catalog is the resource name of the catalog, `catalogs/{catalog_id}`; empty means
   * `catalogs/default`. NOT_FOUND when it does not exist, PERMISSION_DENIED when the API key
   * is limited to other catalogs.
   */
  'catalog': (string);
}
