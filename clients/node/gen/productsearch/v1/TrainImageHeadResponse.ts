// Original file: ../../protos/productsearch/v1/product_search.proto


/**
 * TrainImageHeadResponse describes the new head and what it did on products held out of
 * its training (the catalog's own dev figures: the categories are the relevance labels).
 */
export interface TrainImageHeadResponse {
  /**
   * version of the `image_head` model now served by Triton.
   */
  'version'?: (number);
  /**
   * model is the Triton model that serves the catalog's image head.
   */
  'model'?: (string);
  /**
   * products: categorised products it was fitted on, the held-out ones included.
   */
  'products'?: (number);
  /**
   * categories among them.
   */
  'categories'?: (number);
  /**
   * held_out: products kept out of the fit to stop it and to measure it.
   */
  'heldOut'?: (number);
  /**
   * epochs kept (the one with the best held-out precision).
   */
  'epochs'?: (number);
  /**
   * seconds the fit took.
   */
  'seconds'?: (number | string);
  /**
   * held-out precision@10 (share of the 10 nearest products in the query's category) with
   * the plain image embeddings, and through the new head.
   */
  'precisionAt_10Before'?: (number | string);
  'precisionAt_10After'?: (number | string);
}

/**
 * TrainImageHeadResponse describes the new head and what it did on products held out of
 * its training (the catalog's own dev figures: the categories are the relevance labels).
 */
export interface TrainImageHeadResponse__Output {
  /**
   * version of the `image_head` model now served by Triton.
   */
  'version': (number);
  /**
   * model is the Triton model that serves the catalog's image head.
   */
  'model': (string);
  /**
   * products: categorised products it was fitted on, the held-out ones included.
   */
  'products': (number);
  /**
   * categories among them.
   */
  'categories': (number);
  /**
   * held_out: products kept out of the fit to stop it and to measure it.
   */
  'heldOut': (number);
  /**
   * epochs kept (the one with the best held-out precision).
   */
  'epochs': (number);
  /**
   * seconds the fit took.
   */
  'seconds': (number);
  /**
   * held-out precision@10 (share of the 10 nearest products in the query's category) with
   * the plain image embeddings, and through the new head.
   */
  'precisionAt_10Before': (number);
  'precisionAt_10After': (number);
}
