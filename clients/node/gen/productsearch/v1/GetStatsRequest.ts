// Original file: ../../protos/productsearch/v1/product_search.proto


/**
 * GetStatsRequest has no fields.
 */
export interface GetStatsRequest {
}

/**
 * GetStatsRequest has no fields.
 */
export interface GetStatsRequest__Output {
}
