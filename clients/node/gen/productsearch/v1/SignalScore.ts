// Original file: ../../protos/productsearch/v1/product_search.proto


/**
 * SignalScore is how strongly one signal matched.
 */
export interface SignalScore {
  /**
   * signal names it: "image" (visual similarity) or "title" (text similarity of the title).
   */
  'signal'?: (string);
  /**
   * score is that signal's cosine similarity.
   */
  'score'?: (number | string);
}

/**
 * SignalScore is how strongly one signal matched.
 */
export interface SignalScore__Output {
  /**
   * signal names it: "image" (visual similarity) or "title" (text similarity of the title).
   */
  'signal': (string);
  /**
   * score is that signal's cosine similarity.
   */
  'score': (number);
}
