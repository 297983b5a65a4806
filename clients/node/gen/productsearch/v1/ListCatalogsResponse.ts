// Original file: ../../protos/productsearch/v1/product_search.proto

import type { Catalog as _productsearch_v1_Catalog, Catalog__Output as _productsearch_v1_Catalog__Output } from '../../productsearch/v1/Catalog';

/**
 * ListCatalogsResponse is one page.
 */
export interface ListCatalogsResponse {
  /**
   * catalogs of this page, in id order.
   */
  'catalogs'?: (_productsearch_v1_Catalog)[];
  /**
   * next_page_token fetches the next page; empty on the last page.
   */
  'nextPageToken'?: (string);
}

/**
 * ListCatalogsResponse is one page.
 */
export interface ListCatalogsResponse__Output {
  /**
   * catalogs of this page, in id order.
   */
  'catalogs': (_productsearch_v1_Catalog__Output)[];
  /**
   * next_page_token fetches the next page; empty on the last page.
   */
  'nextPageToken': (string);
}
