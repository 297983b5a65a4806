// Original file: ../../protos/productsearch/v1/product_search.proto

import type { Filter as _productsearch_v1_Filter, Filter__Output as _productsearch_v1_Filter__Output } from '../../productsearch/v1/Filter';

/**
 * ListProductsRequest asks for one page of the catalog.
 */
export interface ListProductsRequest {
  /**
   * page_size is the maximum number of products returned: 1 to 1,000; 0 means 100.
   */
  'pageSize'?: (number);
  /**
   * page_token is `next_page_token` of the previous page; empty for the first page.
   */
  'pageToken'?: (string);
  /**
   * filter restricts the listed products; optional.
   */
  'filter'?: (_productsearch_v1_Filter | null);
  /**
   * catalog is the resource name of the catalog, `catalogs/{catalog_id}`; empty means
   * `catalogs/default`. NOT_FOUND when it does not exist, PERMISSION_DENIED when the API key
   * is limited to other catalogs.
   */
  'catalog'?: (string);
}

/**
 * ListProductsRequest asks for one page of the catalog.
 */
export interface ListProductsRequest__Output {
  /**
   * page_size is the maximum number of products returned: 1 to 1,000; 0 means 100.
   */
  'pageSize': (number);
  /**
   * page_token is `next_page_token` of the previous page; empty for the first page.
   */
  'pageToken': (string);
  /**
   * filter restricts the listed products; optional.
   */
  'filter': (_productsearch_v1_Filter__Output | null);
  /**
   * catalog is the resource name of the catalog, `catalogs/{catalog_id}`; empty means
   * `catalogs/default`. NOT_FOUND when it does not exist, PERMISSION_DENIED when the API key
   * is limited to other catalogs.
   */
  'catalog': (string);
}
