// Original file: ../../protos/productsearch/v1/product_search.proto

import type { SearchOptions as _productsearch_v1_SearchOptions, SearchOptions__Output as _productsearch_v1_SearchOptions__Output } from '../../productsearch/v1/SearchOptions';

/**
 * SearchByTextRequest is a keyword query. It matches titles ("title" signal) and, once a
 * projection is trained, product images through it ("image" signal), so products without
 * titles are found too. With titles alone a hit's score is its cosine similarity. With both
 * signals, cosines of the two spaces are not on one scale (title cosines run higher), so
 * each is calibrated: standardised against a random sample of its space, then turned into a
 * probability of relevance fitted by TrainProjection on the catalog's own categories; a
 * hit's score is its best calibrated signal (0 to 1), and `signals` keep the cosines.
 */
export interface SearchByTextRequest {
  /**
   * text: 1 to 1,000 characters, any of the text encoder's languages (e.g. 运动鞋, red sneakers).
   */
  'text'?: (string);
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
 * SearchByTextRequest is a keyword query. It matches titles ("title" signal) and, once a
 * projection is trained, product images through it ("image" signal), so products without
 * titles are found too. With titles alone a hit's score is its cosine similarity. With both
 * signals, cosines of the two spaces are not on one scale (title cosines run higher), so
 * each is calibrated: standardised against a random sample of its space, then turned into a
 * probability of relevance fitted by TrainProjection on the catalog's own categories; a
 * hit's score is its best calibrated signal (0 to 1), and `signals` keep the cosines.
 */
export interface SearchByTextRequest__Output {
  /**
   * text: 1 to 1,000 characters, any of the text encoder's languages (e.g. 运动鞋, red sneakers).
   */
  'text': (string);
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
