// Original file: ../../protos/productsearch/v1/product_search.proto


/**
 * SignalScore is how strongly one signal matched.
 */
export interface SignalScore {
  /**
   * signal names it: "image" (visual similarity), "title" (text similarity of the title) or,
   * in FindDuplicates, "copy" (the copy score), "partial" (the copy descriptor over the
   * cells that agree best), "geometry" (local features verified) or "template" (a small
   * image matched as a window; "image" is then given for context).
   */
  'signal'?: (string);
  /**
   * score is that signal's cosine similarity; for "geometry" the agreeing matches over 300,
   * at most 1; for "partial" the correlation of the 93 % of cells that agree best; for
   * "template" the normalised cross-correlation of the window.
   */
  'score'?: (number | string);
}

/**
 * SignalScore is how strongly one signal matched.
 */
export interface SignalScore__Output {
  /**
   * signal names it: "image" (visual similarity), "title" (text similarity of the title) or,
   * in FindDuplicates, "copy" (the copy score), "partial" (the copy descriptor over the
   * cells that agree best), "geometry" (local features verified) or "template" (a small
   * image matched as a window; "image" is then given for context).
   */
  'signal': (string);
  /**
   * score is that signal's cosine similarity; for "geometry" the agreeing matches over 300,
   * at most 1; for "partial" the correlation of the 93 % of cells that agree best; for
   * "template" the normalised cross-correlation of the window.
   */
  'score': (number);
}
