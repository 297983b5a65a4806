// Original file: ../../protos/productsearch/v1/product_search.proto

import type { Product as _productsearch_v1_Product, Product__Output as _productsearch_v1_Product__Output } from '../../productsearch/v1/Product';
import type { SignalScore as _productsearch_v1_SignalScore, SignalScore__Output as _productsearch_v1_SignalScore__Output } from '../../productsearch/v1/SignalScore';

/**
 * SearchHit is one ranked product.
 */
export interface SearchHit {
  /**
   * product matched (no image bytes; a thumbnail when asked for).
   */
  'product'?: (_productsearch_v1_Product | null);
  /**
   * score ranks the hits, higher first: the cosine similarity of its signal, or for a
   * keyword search over titles and images a calibrated score (see SearchByTextRequest).
   */
  'score'?: (number | string);
  /**
   * signals that matched, with their scores.
   */
  'signals'?: (_productsearch_v1_SignalScore)[];
}

/**
 * SearchHit is one ranked product.
 */
export interface SearchHit__Output {
  /**
   * product matched (no image bytes; a thumbnail when asked for).
   */
  'product': (_productsearch_v1_Product__Output | null);
  /**
   * score ranks the hits, higher first: the cosine similarity of its signal, or for a
   * keyword search over titles and images a calibrated score (see SearchByTextRequest).
   */
  'score': (number);
  /**
   * signals that matched, with their scores.
   */
  'signals': (_productsearch_v1_SignalScore__Output)[];
}
