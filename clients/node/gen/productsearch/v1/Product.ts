// Original file: ../../protos/productsearch/v1/product_search.proto


/**
 * Product is one catalog item.
 */
export interface Product {
  /**
   * id is the caller's identifier: 1 to 128 characters, unique in the catalog.
   */
  'id'?: (string);
  /**
   * title is the product's name or description, at most 1,000 characters; may be empty.
   */
  'title'?: (string);
  /**
   * category is a free label (e.g. "Sneaker"), at most 200 characters; used by filters.
   */
  'category'?: (string);
  /**
   * price in the catalog's currency; absent when unknown. Must be finite and >= 0.
   */
  'price'?: (number | string);
  /**
   * attributes are free key/value pairs (e.g. colour=red); keys at most 64 characters,
   * values at most 256, at most 64 pairs. Filters can match them for equality.
   */
  'attributes'?: ({[key: string]: string});
  /**
   * image is the product photo, JPEG, PNG or WebP, as uploaded (write only: responses
   * leave it empty and carry `thumbnail` instead).
   */
  'image'?: (Buffer | Uint8Array | string);
  /**
   * image_uri is where the caller displays the image from; stored, never fetched.
   */
  'imageUri'?: (string);
  /**
   * thumbnail is a JPEG of at most 256 px per side made from `image`; returned by
   * GetProduct and, when asked, by searches.
   */
  'thumbnail'?: (Buffer | Uint8Array | string);
  /**
   * update_time is when the product was last written, in seconds since the Unix epoch.
   */
  'updateTime'?: (number | string);
  '_price'?: "price";
}

/**
 * Product is one catalog item.
 */
export interface Product__Output {
  /**
   * id is the caller's identifier: 1 to 128 characters, unique in the catalog.
   */
  'id': (string);
  /**
   * title is the product's name or description, at most 1,000 characters; may be empty.
   */
  'title': (string);
  /**
   * category is a free label (e.g. "Sneaker"), at most 200 characters; used by filters.
   */
  'category': (string);
  /**
   * price in the catalog's currency; absent when unknown. Must be finite and >= 0.
   */
  'price'?: (number);
  /**
   * attributes are free key/value pairs (e.g. colour=red); keys at most 64 characters,
   * values at most 256, at most 64 pairs. Filters can match them for equality.
   */
  'attributes': ({[key: string]: string});
  /**
   * image is the product photo, JPEG, PNG or WebP, as uploaded (write only: responses
   * leave it empty and carry `thumbnail` instead).
   */
  'image': (Buffer);
  /**
   * image_uri is where the caller displays the image from; stored, never fetched.
   */
  'imageUri': (string);
  /**
   * thumbnail is a JPEG of at most 256 px per side made from `image`; returned by
   * GetProduct and, when asked, by searches.
   */
  'thumbnail': (Buffer);
  /**
   * update_time is when the product was last written, in seconds since the Unix epoch.
   */
  'updateTime': (number);
  '_price'?: "price";
}
