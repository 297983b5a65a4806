// Original file: ../../protos/productsearch/v1/product_search.proto


/**
 * GetProductRequest names one product.
 */
export interface GetProductRequest {
  /**
   * id of the product.
   */
  'id'?: (string);
}

/**
 * GetProductRequest names one product.
 */
export interface GetProductRequest__Output {
  /**
   * id of the product.
   */
  'id': (string);
}
