// Original file: ../../protos/productsearch/v1/product_search.proto


/**
 * Filter restricts results; all given conditions must hold.
 */
export interface Filter {
  /**
   * categories: a product matches when its category is one of these; empty = any.
   */
  'categories'?: (string)[];
  /**
   * min_price: products priced at least this; absent = no lower bound.
   */
  'minPrice'?: (number | string);
  /**
   * max_price: products priced at most this; absent = no upper bound. A bound excludes
   * products without a price.
   */
  'maxPrice'?: (number | string);
  /**
   * attributes: each key must be present with exactly this value.
   */
  'attributes'?: ({[key: string]: string});
  '_minPrice'?: "minPrice";
  '_maxPrice'?: "maxPrice";
}

/**
 * Filter restricts results; all given conditions must hold.
 */
export interface Filter__Output {
  /**
   * categories: a product matches when its category is one of these; empty = any.
   */
  'categories': (string)[];
  /**
   * min_price: products priced at least this; absent = no lower bound.
   */
  'minPrice'?: (number);
  /**
   * max_price: products priced at most this; absent = no upper bound. A bound excludes
   * products without a price.
   */
  'maxPrice'?: (number);
  /**
   * attributes: each key must be present with exactly this value.
   */
  'attributes': ({[key: string]: string});
  '_minPrice'?: "minPrice";
  '_maxPrice'?: "maxPrice";
}
