// Original file: ../../protos/productsearch/v1/product_search.proto

import type { Product as _productsearch_v1_Product, Product__Output as _productsearch_v1_Product__Output } from '../../productsearch/v1/Product';

/**
 * GetProductResponse returns it, with its thumbnail.
 */
export interface GetProductResponse {
  /**
   * product as stored.
   */
  'product'?: (_productsearch_v1_Product | null);
}

/**
 * GetProductResponse returns it, with its thumbnail.
 */
export interface GetProductResponse__Output {
  /**
   * product as stored.
   */
  'product': (_productsearch_v1_Product__Output | null);
}
