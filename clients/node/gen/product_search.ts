import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { Catalog as _productsearch_v1_Catalog, Catalog__Output as _productsearch_v1_Catalog__Output } from './productsearch/v1/Catalog';
import type { CreateCatalogRequest as _productsearch_v1_CreateCatalogRequest, CreateCatalogRequest__Output as _productsearch_v1_CreateCatalogRequest__Output } from './productsearch/v1/CreateCatalogRequest';
import type { CreateCatalogResponse as _productsearch_v1_CreateCatalogResponse, CreateCatalogResponse__Output as _productsearch_v1_CreateCatalogResponse__Output } from './productsearch/v1/CreateCatalogResponse';
import type { DeleteCatalogRequest as _productsearch_v1_DeleteCatalogRequest, DeleteCatalogRequest__Output as _productsearch_v1_DeleteCatalogRequest__Output } from './productsearch/v1/DeleteCatalogRequest';
import type { DeleteCatalogResponse as _productsearch_v1_DeleteCatalogResponse, DeleteCatalogResponse__Output as _productsearch_v1_DeleteCatalogResponse__Output } from './productsearch/v1/DeleteCatalogResponse';
import type { DeleteProductsRequest as _productsearch_v1_DeleteProductsRequest, DeleteProductsRequest__Output as _productsearch_v1_DeleteProductsRequest__Output } from './productsearch/v1/DeleteProductsRequest';
import type { DeleteProductsResponse as _productsearch_v1_DeleteProductsResponse, DeleteProductsResponse__Output as _productsearch_v1_DeleteProductsResponse__Output } from './productsearch/v1/DeleteProductsResponse';
import type { ExplainMatchRequest as _productsearch_v1_ExplainMatchRequest, ExplainMatchRequest__Output as _productsearch_v1_ExplainMatchRequest__Output } from './productsearch/v1/ExplainMatchRequest';
import type { ExplainMatchResponse as _productsearch_v1_ExplainMatchResponse, ExplainMatchResponse__Output as _productsearch_v1_ExplainMatchResponse__Output } from './productsearch/v1/ExplainMatchResponse';
import type { Filter as _productsearch_v1_Filter, Filter__Output as _productsearch_v1_Filter__Output } from './productsearch/v1/Filter';
import type { FindDuplicatesRequest as _productsearch_v1_FindDuplicatesRequest, FindDuplicatesRequest__Output as _productsearch_v1_FindDuplicatesRequest__Output } from './productsearch/v1/FindDuplicatesRequest';
import type { GetCatalogRequest as _productsearch_v1_GetCatalogRequest, GetCatalogRequest__Output as _productsearch_v1_GetCatalogRequest__Output } from './productsearch/v1/GetCatalogRequest';
import type { GetCatalogResponse as _productsearch_v1_GetCatalogResponse, GetCatalogResponse__Output as _productsearch_v1_GetCatalogResponse__Output } from './productsearch/v1/GetCatalogResponse';
import type { GetProductRequest as _productsearch_v1_GetProductRequest, GetProductRequest__Output as _productsearch_v1_GetProductRequest__Output } from './productsearch/v1/GetProductRequest';
import type { GetProductResponse as _productsearch_v1_GetProductResponse, GetProductResponse__Output as _productsearch_v1_GetProductResponse__Output } from './productsearch/v1/GetProductResponse';
import type { GetStatsRequest as _productsearch_v1_GetStatsRequest, GetStatsRequest__Output as _productsearch_v1_GetStatsRequest__Output } from './productsearch/v1/GetStatsRequest';
import type { GetStatsResponse as _productsearch_v1_GetStatsResponse, GetStatsResponse__Output as _productsearch_v1_GetStatsResponse__Output } from './productsearch/v1/GetStatsResponse';
import type { IndexInfo as _productsearch_v1_IndexInfo, IndexInfo__Output as _productsearch_v1_IndexInfo__Output } from './productsearch/v1/IndexInfo';
import type { ListCatalogsRequest as _productsearch_v1_ListCatalogsRequest, ListCatalogsRequest__Output as _productsearch_v1_ListCatalogsRequest__Output } from './productsearch/v1/ListCatalogsRequest';
import type { ListCatalogsResponse as _productsearch_v1_ListCatalogsResponse, ListCatalogsResponse__Output as _productsearch_v1_ListCatalogsResponse__Output } from './productsearch/v1/ListCatalogsResponse';
import type { ListProductsRequest as _productsearch_v1_ListProductsRequest, ListProductsRequest__Output as _productsearch_v1_ListProductsRequest__Output } from './productsearch/v1/ListProductsRequest';
import type { ListProductsResponse as _productsearch_v1_ListProductsResponse, ListProductsResponse__Output as _productsearch_v1_ListProductsResponse__Output } from './productsearch/v1/ListProductsResponse';
import type { ModelInfo as _productsearch_v1_ModelInfo, ModelInfo__Output as _productsearch_v1_ModelInfo__Output } from './productsearch/v1/ModelInfo';
import type { Product as _productsearch_v1_Product, Product__Output as _productsearch_v1_Product__Output } from './productsearch/v1/Product';
import type { ProductSearchClient as _productsearch_v1_ProductSearchClient, ProductSearchDefinition as _productsearch_v1_ProductSearchDefinition } from './productsearch/v1/ProductSearch';
import type { ProductStatus as _productsearch_v1_ProductStatus, ProductStatus__Output as _productsearch_v1_ProductStatus__Output } from './productsearch/v1/ProductStatus';
import type { SearchByImageRequest as _productsearch_v1_SearchByImageRequest, SearchByImageRequest__Output as _productsearch_v1_SearchByImageRequest__Output } from './productsearch/v1/SearchByImageRequest';
import type { SearchByTextRequest as _productsearch_v1_SearchByTextRequest, SearchByTextRequest__Output as _productsearch_v1_SearchByTextRequest__Output } from './productsearch/v1/SearchByTextRequest';
import type { SearchHit as _productsearch_v1_SearchHit, SearchHit__Output as _productsearch_v1_SearchHit__Output } from './productsearch/v1/SearchHit';
import type { SearchOptions as _productsearch_v1_SearchOptions, SearchOptions__Output as _productsearch_v1_SearchOptions__Output } from './productsearch/v1/SearchOptions';
import type { SearchResponse as _productsearch_v1_SearchResponse, SearchResponse__Output as _productsearch_v1_SearchResponse__Output } from './productsearch/v1/SearchResponse';
import type { SearchSimilarRequest as _productsearch_v1_SearchSimilarRequest, SearchSimilarRequest__Output as _productsearch_v1_SearchSimilarRequest__Output } from './productsearch/v1/SearchSimilarRequest';
import type { SignalScore as _productsearch_v1_SignalScore, SignalScore__Output as _productsearch_v1_SignalScore__Output } from './productsearch/v1/SignalScore';
import type { TrainImageHeadRequest as _productsearch_v1_TrainImageHeadRequest, TrainImageHeadRequest__Output as _productsearch_v1_TrainImageHeadRequest__Output } from './productsearch/v1/TrainImageHeadRequest';
import type { TrainImageHeadResponse as _productsearch_v1_TrainImageHeadResponse, TrainImageHeadResponse__Output as _productsearch_v1_TrainImageHeadResponse__Output } from './productsearch/v1/TrainImageHeadResponse';
import type { TrainProjectionRequest as _productsearch_v1_TrainProjectionRequest, TrainProjectionRequest__Output as _productsearch_v1_TrainProjectionRequest__Output } from './productsearch/v1/TrainProjectionRequest';
import type { TrainProjectionResponse as _productsearch_v1_TrainProjectionResponse, TrainProjectionResponse__Output as _productsearch_v1_TrainProjectionResponse__Output } from './productsearch/v1/TrainProjectionResponse';
import type { UpsertProductsRequest as _productsearch_v1_UpsertProductsRequest, UpsertProductsRequest__Output as _productsearch_v1_UpsertProductsRequest__Output } from './productsearch/v1/UpsertProductsRequest';
import type { UpsertProductsResponse as _productsearch_v1_UpsertProductsResponse, UpsertProductsResponse__Output as _productsearch_v1_UpsertProductsResponse__Output } from './productsearch/v1/UpsertProductsResponse';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  productsearch: {
    v1: {
      Catalog: MessageTypeDefinition<_productsearch_v1_Catalog, _productsearch_v1_Catalog__Output>
      CreateCatalogRequest: MessageTypeDefinition<_productsearch_v1_CreateCatalogRequest, _productsearch_v1_CreateCatalogRequest__Output>
      CreateCatalogResponse: MessageTypeDefinition<_productsearch_v1_CreateCatalogResponse, _productsearch_v1_CreateCatalogResponse__Output>
      DeleteCatalogRequest: MessageTypeDefinition<_productsearch_v1_DeleteCatalogRequest, _productsearch_v1_DeleteCatalogRequest__Output>
      DeleteCatalogResponse: MessageTypeDefinition<_productsearch_v1_DeleteCatalogResponse, _productsearch_v1_DeleteCatalogResponse__Output>
      DeleteProductsRequest: MessageTypeDefinition<_productsearch_v1_DeleteProductsRequest, _productsearch_v1_DeleteProductsRequest__Output>
      DeleteProductsResponse: MessageTypeDefinition<_productsearch_v1_DeleteProductsResponse, _productsearch_v1_DeleteProductsResponse__Output>
      ExplainMatchRequest: MessageTypeDefinition<_productsearch_v1_ExplainMatchRequest, _productsearch_v1_ExplainMatchRequest__Output>
      ExplainMatchResponse: MessageTypeDefinition<_productsearch_v1_ExplainMatchResponse, _productsearch_v1_ExplainMatchResponse__Output>
      Filter: MessageTypeDefinition<_productsearch_v1_Filter, _productsearch_v1_Filter__Output>
      FindDuplicatesRequest: MessageTypeDefinition<_productsearch_v1_FindDuplicatesRequest, _productsearch_v1_FindDuplicatesRequest__Output>
      GetCatalogRequest: MessageTypeDefinition<_productsearch_v1_GetCatalogRequest, _productsearch_v1_GetCatalogRequest__Output>
      GetCatalogResponse: MessageTypeDefinition<_productsearch_v1_GetCatalogResponse, _productsearch_v1_GetCatalogResponse__Output>
      GetProductRequest: MessageTypeDefinition<_productsearch_v1_GetProductRequest, _productsearch_v1_GetProductRequest__Output>
      GetProductResponse: MessageTypeDefinition<_productsearch_v1_GetProductResponse, _productsearch_v1_GetProductResponse__Output>
      GetStatsRequest: MessageTypeDefinition<_productsearch_v1_GetStatsRequest, _productsearch_v1_GetStatsRequest__Output>
      GetStatsResponse: MessageTypeDefinition<_productsearch_v1_GetStatsResponse, _productsearch_v1_GetStatsResponse__Output>
      IndexInfo: MessageTypeDefinition<_productsearch_v1_IndexInfo, _productsearch_v1_IndexInfo__Output>
      ListCatalogsRequest: MessageTypeDefinition<_productsearch_v1_ListCatalogsRequest, _productsearch_v1_ListCatalogsRequest__Output>
      ListCatalogsResponse: MessageTypeDefinition<_productsearch_v1_ListCatalogsResponse, _productsearch_v1_ListCatalogsResponse__Output>
      ListProductsRequest: MessageTypeDefinition<_productsearch_v1_ListProductsRequest, _productsearch_v1_ListProductsRequest__Output>
      ListProductsResponse: MessageTypeDefinition<_productsearch_v1_ListProductsResponse, _productsearch_v1_ListProductsResponse__Output>
      ModelInfo: MessageTypeDefinition<_productsearch_v1_ModelInfo, _productsearch_v1_ModelInfo__Output>
      Product: MessageTypeDefinition<_productsearch_v1_Product, _productsearch_v1_Product__Output>
      /**
       * ProductSearch is the service other backends call. Products live in catalogs; every call
       * names one (`catalog`, empty for `catalogs/default`). Errors use canonical gRPC codes:
       * INVALID_ARGUMENT (with google.rpc.BadRequest field violations) for bad input, NOT_FOUND
       * for unknown ids and catalogs, PERMISSION_DENIED for a key limited to other catalogs,
       * UNAVAILABLE while the embedding models are down, DEADLINE_EXCEEDED when the caller's
       * deadline passes.
       */
      ProductSearch: SubtypeConstructor<typeof grpc.Client, _productsearch_v1_ProductSearchClient> & { service: _productsearch_v1_ProductSearchDefinition }
      ProductStatus: MessageTypeDefinition<_productsearch_v1_ProductStatus, _productsearch_v1_ProductStatus__Output>
      SearchByImageRequest: MessageTypeDefinition<_productsearch_v1_SearchByImageRequest, _productsearch_v1_SearchByImageRequest__Output>
      SearchByTextRequest: MessageTypeDefinition<_productsearch_v1_SearchByTextRequest, _productsearch_v1_SearchByTextRequest__Output>
      SearchHit: MessageTypeDefinition<_productsearch_v1_SearchHit, _productsearch_v1_SearchHit__Output>
      SearchOptions: MessageTypeDefinition<_productsearch_v1_SearchOptions, _productsearch_v1_SearchOptions__Output>
      SearchResponse: MessageTypeDefinition<_productsearch_v1_SearchResponse, _productsearch_v1_SearchResponse__Output>
      SearchSimilarRequest: MessageTypeDefinition<_productsearch_v1_SearchSimilarRequest, _productsearch_v1_SearchSimilarRequest__Output>
      SignalScore: MessageTypeDefinition<_productsearch_v1_SignalScore, _productsearch_v1_SignalScore__Output>
      TrainImageHeadRequest: MessageTypeDefinition<_productsearch_v1_TrainImageHeadRequest, _productsearch_v1_TrainImageHeadRequest__Output>
      TrainImageHeadResponse: MessageTypeDefinition<_productsearch_v1_TrainImageHeadResponse, _productsearch_v1_TrainImageHeadResponse__Output>
      TrainProjectionRequest: MessageTypeDefinition<_productsearch_v1_TrainProjectionRequest, _productsearch_v1_TrainProjectionRequest__Output>
      TrainProjectionResponse: MessageTypeDefinition<_productsearch_v1_TrainProjectionResponse, _productsearch_v1_TrainProjectionResponse__Output>
      UpsertProductsRequest: MessageTypeDefinition<_productsearch_v1_UpsertProductsRequest, _productsearch_v1_UpsertProductsRequest__Output>
      UpsertProductsResponse: MessageTypeDefinition<_productsearch_v1_UpsertProductsResponse, _productsearch_v1_UpsertProductsResponse__Output>
    }
  }
}

