// Original file: ../../protos/productsearch/v1/product_search.proto


/**
 * DeleteProductsRequest names the products to delete.
 */
export interface DeleteProductsRequest {
  /**
   * ids to delete: 1 to 1,000.
   */
  'ids'?: (string)[];
}

/**
 * DeleteProductsRequest names the products to delete.
 */
export interface DeleteProductsRequest__Output {
  /**
   * ids to delete: 1 to 1,000.
   */
  'ids': (string)[];
}
