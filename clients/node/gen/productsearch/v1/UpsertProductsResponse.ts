// Original file: ../../protos/productsearch/v1/product_search.proto

import type { ProductStatus as _productsearch_v1_ProductStatus, ProductStatus__Output as _productsearch_v1_ProductStatus__Output } from '../../productsearch/v1/ProductStatus';

/**
 * UpsertProductsResponse summarises the stream.
 */
export interface UpsertProductsResponse {
  /**
   * statuses has one entry per streamed product, in stream order.
   */
  'statuses'?: (_productsearch_v1_ProductStatus)[];
  /**
   * upserted counts products committed.
   */
  'upserted'?: (number);
  /**
   * failed counts products rejected.
   */
  'failed'?: (number);
}

/**
 * UpsertProductsResponse summarises the stream.
 */
export interface UpsertProductsResponse__Output {
  /**
   * statuses has one entry per streamed product, in stream order.
   */
  'statuses': (_productsearch_v1_ProductStatus__Output)[];
  /**
   * upserted counts products committed.
   */
  'upserted': (number);
  /**
   * failed counts products rejected.
   */
  'failed': (number);
}
