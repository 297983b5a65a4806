// Original file: ../../protos/productsearch/v1/product_search.proto

import type { Product as _productsearch_v1_Product, Product__Output as _productsearch_v1_Product__Output } from '../../productsearch/v1/Product';

/**
 * UpsertProductsRequest carries one product of the stream. Every message of one stream
 * names the same catalog (the first one's); a product naming another gets INVALID_ARGUMENT.
 */
export interface UpsertProductsRequest {
  /**
   * product to create or replace; `id` and `image` are required.
   */
  'product'?: (_productsearch_v1_Product | null);
  /**
   * catalog is the resource name of the catalog, `catalogs/{catalog_id}`; empty means
   * `catalogs/default`. NOT_FOUND when it does not exist, PERMISSION_DENIED when the API key
   * is limited to other catalogs.
   */
  'catalog'?: (string);
}

/**
 * UpsertProductsRequest carries one product of the stream. Every message of one stream
 * names the same catalog (the first one's); a product naming another gets INVALID_ARGUMENT.
 */
export interface UpsertProductsRequest__Output {
  /**
   * product to create or replace; `id` and `image` are required.
   */
  'product': (_productsearch_v1_Product__Output | null);
  /**
   * catalog is the resource name of the catalog, `catalogs/{catalog_id}`; empty means
   * `catalogs/default`. NOT_FOUND when it does not exist, PERMISSION_DENIED when the API key
   * is limited to other catalogs.
   */
  'catalog': (string);
}
