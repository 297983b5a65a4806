// Original file: ../../protos/productsearch/v1/product_search.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Catalog is a named, isolated collection of products with its own indexes and models.
 */
export interface Catalog {
  /**
   * name is the resource name, `catalogs/{catalog_id}` (output only).
   */
  'name'?: (string);
  /**
   * display_name is a human-readable name, at most 200 characters; may be empty.
   */
  'displayName'?: (string);
  /**
   * description says what the catalog holds, at most 1,000 characters; may be empty.
   */
  'description'?: (string);
  /**
   * create_time is when the catalog was created, in seconds since the Unix epoch (output only).
   */
  'createTime'?: (number | string);
  /**
   * product_count is the number of products in it (output only).
   */
  'productCount'?: (number | string | Long);
}

/**
 * Catalog is a named, isolated collection of products with its own indexes and models.
 */
export interface Catalog__Output {
  /**
   * name is the resource name, `catalogs/{catalog_id}` (output only).
   */
  'name': (string);
  /**
   * display_name is a human-readable name, at most 200 characters; may be empty.
   */
  'displayName': (string);
  /**
   * description says what the catalog holds, at most 1,000 characters; may be empty.
   */
  'description': (string);
  /**
   * create_time is when the catalog was created, in seconds since the Unix epoch (output only).
   */
  'createTime': (number);
  /**
   * product_count is the number of products in it (output only).
   */
  'productCount': (string);
}
