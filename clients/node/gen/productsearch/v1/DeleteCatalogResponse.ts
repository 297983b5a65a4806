// Original file: ../../protos/productsearch/v1/product_search.proto


/**
 * DeleteCatalogResponse has no fields: the catalog and all it stored are gone.
 */
export interface DeleteCatalogResponse {
}

/**
 * DeleteCatalogResponse has no fields: the catalog and all it stored are gone.
 */
export interface DeleteCatalogResponse__Output {
}
