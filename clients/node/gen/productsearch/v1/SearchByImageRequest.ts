// Original file: ../../protos/productsearch/v1/product_search.proto

import type { SearchOptions as _productsearch_v1_SearchOptions, SearchOptions__Output as _productsearch_v1_SearchOptions__Output } from '../../productsearch/v1/SearchOptions';

/**
 * SearchByImageRequest is a visual query.
 */
export interface SearchByImageRequest {
  /**
   * image to search with: JPEG, PNG or WebP, at most 20 MiB and 40 megapixels.
   */
  'image'?: (Buffer | Uint8Array | string);
  /**
   * options: top_k, filter, min_score.
   */
  'options'?: (_productsearch_v1_SearchOptions | null);
  /**
   * catalog is the resource name of the catalog, `catalogs/{catalog_id}`; empty means
   * `catalogs/default`. NOT_FOUND when it does not exist, PERMISSION_DENIED when the API key
   * is limited to other catalogs.
   */
  'catalog'?: (string);
}

/**
 * SearchByImageRequest is a visual query.
 */
export interface SearchByImageRequest__Output {
  /**
   * image to search with: JPEG, PNG or WebP, at most 20 MiB and 40 megapixels.
   */
  'image': (Buffer);
  /**
   * options: top_k, filter, min_score.
   */
  'options': (_productsearch_v1_SearchOptions__Output | null);
  /**
   * catalog is the resource name of the catalog, `catalogs/{catalog_id}`; empty means
   * `catalogs/default`. NOT_FOUND when it does not exist, PERMISSION_DENIED when the API key
   * is limited to other catalogs.
   */
  'catalog': (string);
}
