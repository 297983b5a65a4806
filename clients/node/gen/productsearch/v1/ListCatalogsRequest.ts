// Original file: ../../protos/productsearch/v1/product_search.proto


/**
 * ListCatalogsRequest asks for one page of catalogs.
 */
export interface ListCatalogsRequest {
  /**
   * page_size is the maximum number of catalogs returned: 1 to 1,000; 0 means 100.
   */
  'pageSize'?: (number);
  /**
   * page_token is `next_page_token` of the previous page; empty for the first page.
   */
  'pageToken'?: (string);
}

/**
 * ListCatalogsRequest asks for one page of catalogs.
 */
export interface ListCatalogsRequest__Output {
  /**
   * page_size is the maximum number of catalogs returned: 1 to 1,000; 0 means 100.
   */
  'pageSize': (number);
  /**
   * page_token is `next_page_token` of the previous page; empty for the first page.
   */
  'pageToken': (string);
}
