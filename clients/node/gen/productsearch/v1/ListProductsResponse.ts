// Original file: ../../protos/productsearch/v1/product_search.proto

import type { Product as _productsearch_v1_Product, Product__Output as _productsearch_v1_Product__Output } from '../../productsearch/v1/Product';

/**
 * ListProductsResponse is one page.
 */
export interface ListProductsResponse {
  /**
   * products of this page, in id order, without thumbnails.
   */
  'products'?: (_productsearch_v1_Product)[];
  /**
   * next_page_token fetches the next page; empty on the last page.
   */
  'nextPageToken'?: (string);
}

/**
 * ListProductsResponse is one page.
 */
export interface ListProductsResponse__Output {
  /**
   * products of this page, in id order, without thumbnails.
   */
  'products': (_productsearch_v1_Product__Output)[];
  /**
   * next_page_token fetches the next page; empty on the last page.
   */
  'nextPageToken': (string);
}
