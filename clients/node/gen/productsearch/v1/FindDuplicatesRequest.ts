// Original file: ../../protos/productsearch/v1/product_search.proto


/**
 * FindDuplicatesRequest looks for near-copies of an image (copy detection).
 */
export interface FindDuplicatesRequest {
  /**
   * image to look for: JPEG, PNG or WebP.
   */
  'image'?: (Buffer | Uint8Array | string);
  /**
   * threshold is the copy score at or above which a product counts as a copy: 0 to 1; 0
   * means the service default (0.997). The copy score is the cosine similarity of 16x16
   * grey, mean-subtracted thumbnails, the best over crops and a mirror image; distinct
   * products of one kind can reach 0.99, so useful thresholds lie between 0.99 and 0.999.
   * A copy verified by local features (ORB + RANSAC, both images at least 128 px: at least
   * 60 matches under one rotation + scale + translation, spread over 30 % of the catalog
   * image) counts whatever its copy score; its score lies between the threshold and 1,
   * higher with more agreeing matches.
   */
  'threshold'?: (number | string);
  /**
   * max_results caps the answer: 1 to 1,000; 0 means 100.
   */
  'maxResults'?: (number);
  /**
   * catalog is the resource name of the catalog, `catalogs/{catalog_id}`; empty means
   * `catalogs/default`. NOT_FOUND when it does not exist, PERMISSION_DENIED when the API key
   * is limited to other catalogs.
   */
  'catalog'?: (string);
}

/**
 * FindDuplicatesRequest looks for near-copies of an image (copy detection).
 */
export interface FindDuplicatesRequest__Output {
  /**
   * image to look for: JPEG, PNG or WebP.
   */
  'image': (Buffer);
  /**
   * threshold is the copy score at or above which a product counts as a copy: 0 to 1; 0
   * means the service default (0.997). The copy score is the cosine similarity of 16x16
   * grey, mean-subtracted thumbnails, the best over crops and a mirror image; distinct
   * products of one kind can reach 0.99, so useful thresholds lie between 0.99 and 0.999.
   * A copy verified by local features (ORB + RANSAC, both images at least 128 px: at least
   * 60 matches under one rotation + scale + translation, spread over 30 % of the catalog
   * image) counts whatever its copy score; its score lies between the threshold and 1,
   * higher with more agreeing matches.
   */
  'threshold': (number);
  /**
   * max_results caps the answer: 1 to 1,000; 0 means 100.
   */
  'maxResults': (number);
  /**
   * catalog is the resource name of the catalog, `catalogs/{catalog_id}`; empty means
   * `catalogs/default`. NOT_FOUND when it does not exist, PERMISSION_DENIED when the API key
   * is limited to other catalogs.
   */
  'catalog': (string);
}
