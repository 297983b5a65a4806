// Original file: ../../protos/productsearch/v1/product_search.proto

import type { ModelInfo as _productsearch_v1_ModelInfo, ModelInfo__Output as _productsearch_v1_ModelInfo__Output } from '../../productsearch/v1/ModelInfo';
import type { IndexInfo as _productsearch_v1_IndexInfo, IndexInfo__Output as _productsearch_v1_IndexInfo__Output } from '../../productsearch/v1/IndexInfo';
import type { Catalog as _productsearch_v1_Catalog, Catalog__Output as _productsearch_v1_Catalog__Output } from '../../productsearch/v1/Catalog';
import type { Long } from '@grpc/proto-loader';

/**
 * GetStatsResponse describes one catalog, the models and its indexes.
 */
export interface GetStatsResponse {
  /**
   * product_count is the number of products in the catalog.
   */
  'productCount'?: (number | string | Long);
  /**
   * models serving embeddings (and the catalog's projection, once trained).
   */
  'models'?: (_productsearch_v1_ModelInfo)[];
  /**
   * indexes, one per embedding space.
   */
  'indexes'?: (_productsearch_v1_IndexInfo)[];
  /**
   * catalog described.
   */
  'catalog'?: (_productsearch_v1_Catalog | null);
}

/**
 * GetStatsResponse describes one catalog, the models and its indexes.
 */
export interface GetStatsResponse__Output {
  /**
   * product_count is the number of products in the catalog.
   */
  'productCount': (string);
  /**
   * models serving embeddings (and the catalog's projection, once trained).
   */
  'models': (_productsearch_v1_ModelInfo__Output)[];
  /**
   * indexes, one per embedding space.
   */
  'indexes': (_productsearch_v1_IndexInfo__Output)[];
  /**
   * catalog described.
   */
  'catalog': (_productsearch_v1_Catalog__Output | null);
}
