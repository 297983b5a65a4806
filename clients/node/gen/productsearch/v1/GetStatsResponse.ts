// Original file: ../../protos/productsearch/v1/product_search.proto

import type { ModelInfo as _productsearch_v1_ModelInfo, ModelInfo__Output as _productsearch_v1_ModelInfo__Output } from '../../productsearch/v1/ModelInfo';
import type { IndexInfo as _productsearch_v1_IndexInfo, IndexInfo__Output as _productsearch_v1_IndexInfo__Output } from '../../productsearch/v1/IndexInfo';
import type { Long } from '@grpc/proto-loader';

/**
 * GetStatsResponse describes the service.
 */
export interface GetStatsResponse {
  /**
   * product_count is the number of products in the catalog.
   */
  'productCount'?: (number | string | Long);
  /**
   * models serving embeddings.
   */
  'models'?: (_productsearch_v1_ModelInfo)[];
  /**
   * indexes, one per embedding space.
   */
  'indexes'?: (_productsearch_v1_IndexInfo)[];
}

/**
 * GetStatsResponse describes the service.
 */
export interface GetStatsResponse__Output {
  /**
   * product_count is the number of products in the catalog.
   */
  'productCount': (string);
  /**
   * models serving embeddings.
   */
  'models': (_productsearch_v1_ModelInfo__Output)[];
  /**
   * indexes, one per embedding space.
   */
  'indexes': (_productsearch_v1_IndexInfo__Output)[];
}
