// Original file: ../../protos/productsearch/v1/product_search.proto


/**
 * GetCatalogRequest names one catalog.
 */
export interface GetCatalogRequest {
  /**
   * name of the catalog, `catalogs/{catalog_id}`.
   */
  'name'?: (string);
}

/**
 * GetCatalogRequest names one catalog.
 */
export interface GetCatalogRequest__Output {
  /**
   * name of the catalog, `catalogs/{catalog_id}`.
   */
  'name': (string);
}
