// Original file: ../../protos/productsearch/v1/product_search.proto


/**
 * TrainProjectionResponse describes the new projection.
 */
export interface TrainProjectionResponse {
  /**
   * version of the `text_to_image` model now served.
   */
  'version'?: (number);
  /**
   * pairs: how many (title, image) pairs it was fitted on.
   */
  'pairs'?: (number);
  /**
   * method used.
   */
  'method'?: (string);
  /**
   * seconds the fit took.
   */
  'seconds'?: (number | string);
  /**
   * epochs of contrastive training kept (the one with the lowest held-out loss; 0 for ridge).
   */
  'epochs'?: (number);
  /**
   * model is the Triton model that serves the catalog's projection.
   */
  'model'?: (string);
  /**
   * span_pairs: (span of a title, image) pairs it was also fitted on (a quarter of the
   * titles' runs of up to three words or the endings of Chinese words, drawn at random).
   */
  'spanPairs'?: (number);
  /**
   * category_pairs: (category name, image) pairs it was also fitted on, one per categorised
   * product, titled or not (at most 50,000, drawn at random).
   */
  'categoryPairs'?: (number);
}

/**
 * TrainProjectionResponse describes the new projection.
 */
export interface TrainProjectionResponse__Output {
  /**
   * version of the `text_to_image` model now served.
   */
  'version': (number);
  /**
   * pairs: how many (title, image) pairs it was fitted on.
   */
  'pairs': (number);
  /**
   * method used.
   */
  'method': (string);
  /**
   * seconds the fit took.
   */
  'seconds': (number);
  /**
   * epochs of contrastive training kept (the one with the lowest held-out loss; 0 for ridge).
   */
  'epochs': (number);
  /**
   * model is the Triton model that serves the catalog's projection.
   */
  'model': (string);
  /**
   * span_pairs: (span of a title, image) pairs it was also fitted on (a quarter of the
   * titles' runs of up to three words or the endings of Chinese words, drawn at random).
   */
  'spanPairs': (number);
  /**
   * category_pairs: (category name, image) pairs it was also fitted on, one per categorised
   * product, titled or not (at most 50,000, drawn at random).
   */
  'categoryPairs': (number);
}
