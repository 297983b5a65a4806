// Original file: ../../protos/productsearch/v1/product_search.proto


/**
 * DeleteCatalogRequest names the catalog to delete.
 */
export interface DeleteCatalogRequest {
  /**
   * name of the catalog, `catalogs/{catalog_id}`.
   */
  'name'?: (string);
  /**
   * force deletes the catalog's products with it; without it only an empty catalog is deleted.
   */
  'force'?: (boolean);
}

/**
 * DeleteCatalogRequest names the catalog to delete.
 */
export interface DeleteCatalogRequest__Output {
  /**
   * name of the catalog, `catalogs/{catalog_id}`.
   */
  'name': (string);
  /**
   * force deletes the catalog's products with it; without it only an empty catalog is deleted.
   */
  'force': (boolean);
}
