// Original file: ../../protos/productsearch/v1/product_search.proto


/**
 * ExplainMatchRequest names a query (exactly one of `image`, `text` or `query_product_id`,
 * as sent to SearchByImage, SearchByText or SearchSimilar) and the product to explain it
 * against.
 */
export interface ExplainMatchRequest {
  /**
   * image query: JPEG, PNG or WebP, at most 20 MiB and 40 megapixels (as SearchByImage).
   * Compared with its own image embedding.
   */
  'image'?: (Buffer | Uint8Array | string);
  /**
   * text query: 1 to 1,000 characters (as SearchByText). Mapped into the image model's
   * space by the catalog's trained projection (`text_to_image`); FAILED_PRECONDITION
   * before one is trained.
   */
  'text'?: (string);
  /**
   * product_id of the catalog product (a hit) to explain; 1 to 128 characters.
   */
  'productId'?: (string);
  /**
   * catalog is the resource name of the catalog, `catalogs/{catalog_id}`; empty means
   * `catalogs/default`. NOT_FOUND when it does not exist, PERMISSION_DENIED when the API key
   * is limited to other catalogs.
   */
  'catalog'?: (string);
  /**
   * query_product_id: a catalog product as the query (as SearchSimilar), 1 to 128
   * characters; its indexed image embedding is compared. NOT_FOUND when unknown.
   */
  'queryProductId'?: (string);
  /**
   * query is what was searched with; exactly one is required.
   */
  'query'?: "image"|"text"|"queryProductId";
}

/**
 * ExplainMatchRequest names a query (exactly one of `image`, `text` or `query_product_id`,
 * as sent to SearchByImage, SearchByText or SearchSimilar) and the product to explain it
 * against.
 */
export interface ExplainMatchRequest__Output {
  /**
   * image query: JPEG, PNG or WebP, at most 20 MiB and 40 megapixels (as SearchByImage).
   * Compared with its own image embedding.
   */
  'image'?: (Buffer);
  /**
   * text query: 1 to 1,000 characters (as SearchByText). Mapped into the image model's
   * space by the catalog's trained projection (`text_to_image`); FAILED_PRECONDITION
   * before one is trained.
   */
  'text'?: (string);
  /**
   * product_id of the catalog product (a hit) to explain; 1 to 128 characters.
   */
  'productId': (string);
  /**
   * catalog is the resource name of the catalog, `catalogs/{catalog_id}`; empty means
   * `catalogs/default`. NOT_FOUND when it does not exist, PERMISSION_DENIED when the API key
   * is limited to other catalogs.
   */
  'catalog': (string);
  /**
   * query_product_id: a catalog product as the query (as SearchSimilar), 1 to 128
   * characters; its indexed image embedding is compared. NOT_FOUND when unknown.
   */
  'queryProductId'?: (string);
  /**
   * query is what was searched with; exactly one is required.
   */
  'query'?: "image"|"text"|"queryProductId";
}
