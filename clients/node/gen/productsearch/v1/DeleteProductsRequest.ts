// Original file: ../../protos/productsearch/v1/product_search.proto


/**
 * DeleteProductsRequest names the products to delete.
 */
export interface DeleteProductsRequest {
  /**
   * ids to delete: 1 to 1,000.
   */
  'ids'?: (string)[];
  /**
   * catalog is the resource name of the catalog, `catalogs/{catalog_id}`; empty means
   * `catalogs/default`. NOT_FOUND when it does not exist, PERMISSION_DENIED when the API key
   * is limited to other catalogs.
   */
  'catalog'?: (string);
}

/**
 * DeleteProductsRequest names the products to delete.
 */
export interface DeleteProductsRequest__Output {
  /**
   * ids to delete: 1 to 1,000.
   */
  'ids': (string)[];
  /**
   * catalog is the resource name of the catalog, `catalogs/{catalog_id}`; empty means
   * `catalogs/default`. NOT_FOUND when it does not exist, PERMISSION_DENIED when the API key
   * is limited to other catalogs.
   */
  'catalog': (string);
}
