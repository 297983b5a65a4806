// Original file: ../../protos/productsearch/v1/product_search.proto

import type { Product as _productsearch_v1_Product, Product__Output as _productsearch_v1_Product__Output } from '../../productsearch/v1/Product';

/**
 * UpsertProductsRequest carries one product of the stream.
 */
export interface UpsertProductsRequest {
  /**
   * product to create or replace; `id` and `image` are required.
   */
  'product'?: (_productsearch_v1_Product | null);
}

/**
 * UpsertProductsRequest carries one product of the stream.
 */
export interface UpsertProductsRequest__Output {
  /**
   * product to create or replace; `id` and `image` are required.
   */
  'product': (_productsearch_v1_Product__Output | null);
}
