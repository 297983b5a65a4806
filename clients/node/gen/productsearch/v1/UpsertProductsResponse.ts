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
  /**
   * truncated is set when the stream sent more than 10,000 products: the gateway stopped
   * reading after that many (those have statuses); send the rest in another stream.
   */
  'truncated'?: (boolean);
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
  /**
   * truncated is set when the stream sent more than 10,000 products: the gateway stopped
   * reading after that many (those have statuses); send the rest in another stream.
   */
  'truncated': (boolean);
}
