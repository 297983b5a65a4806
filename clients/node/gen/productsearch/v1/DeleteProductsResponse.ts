// Original file: ../../protos/productsearch/v1/product_search.proto


/**
 * DeleteProductsResponse says what happened.
 */
export interface DeleteProductsResponse {
  /**
   * deleted counts products removed.
   */
  'deleted'?: (number);
  /**
   * not_found lists ids that were not in the catalog, each cut to its first 128 characters.
   */
  'notFound'?: (string)[];
}

/**
 * DeleteProductsResponse says what happened.
 */
export interface DeleteProductsResponse__Output {
  /**
   * deleted counts products removed.
   */
  'deleted': (number);
  /**
   * not_found lists ids that were not in the catalog, each cut to its first 128 characters.
   */
  'notFound': (string)[];
}
