// Original file: ../../protos/productsearch/v1/product_search.proto


/**
 * ProductStatus is the outcome for one streamed product.
 */
export interface ProductStatus {
  /**
   * id of the product as sent, cut to its first 128 characters (a longer id is invalid).
   */
  'id'?: (string);
  /**
   * code is a google.rpc.Code value: 0 (OK) when committed, 3 (INVALID_ARGUMENT) for a bad
   * product, 14 (UNAVAILABLE) when it could not be embedded. Other products still proceed.
   */
  'code'?: (number);
  /**
   * message explains a non-OK code.
   */
  'message'?: (string);
  /**
   * position of the product in the stream, from 0.
   */
  'position'?: (number);
}

/**
 * ProductStatus is the outcome for one streamed product.
 */
export interface ProductStatus__Output {
  /**
   * id of the product as sent, cut to its first 128 characters (a longer id is invalid).
   */
  'id': (string);
  /**
   * code is a google.rpc.Code value: 0 (OK) when committed, 3 (INVALID_ARGUMENT) for a bad
   * product, 14 (UNAVAILABLE) when it could not be embedded. Other products still proceed.
   */
  'code': (number);
  /**
   * message explains a non-OK code.
   */
  'message': (string);
  /**
   * position of the product in the stream, from 0.
   */
  'position': (number);
}
