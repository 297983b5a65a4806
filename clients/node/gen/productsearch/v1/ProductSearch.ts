// Original file: ../../protos/productsearch/v1/product_search.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { CreateCatalogRequest as _productsearch_v1_CreateCatalogRequest, CreateCatalogRequest__Output as _productsearch_v1_CreateCatalogRequest__Output } from '../../productsearch/v1/CreateCatalogRequest';
import type { CreateCatalogResponse as _productsearch_v1_CreateCatalogResponse, CreateCatalogResponse__Output as _productsearch_v1_CreateCatalogResponse__Output } from '../../productsearch/v1/CreateCatalogResponse';
import type { DeleteCatalogRequest as _productsearch_v1_DeleteCatalogRequest, DeleteCatalogRequest__Output as _productsearch_v1_DeleteCatalogRequest__Output } from '../../productsearch/v1/DeleteCatalogRequest';
import type { DeleteCatalogResponse as _productsearch_v1_DeleteCatalogResponse, DeleteCatalogResponse__Output as _productsearch_v1_DeleteCatalogResponse__Output } from '../../productsearch/v1/DeleteCatalogResponse';
import type { DeleteProductsRequest as _productsearch_v1_DeleteProductsRequest, DeleteProductsRequest__Output as _productsearch_v1_DeleteProductsRequest__Output } from '../../productsearch/v1/DeleteProductsRequest';
import type { DeleteProductsResponse as _productsearch_v1_DeleteProductsResponse, DeleteProductsResponse__Output as _productsearch_v1_DeleteProductsResponse__Output } from '../../productsearch/v1/DeleteProductsResponse';
import type { ExplainMatchRequest as _productsearch_v1_ExplainMatchRequest, ExplainMatchRequest__Output as _productsearch_v1_ExplainMatchRequest__Output } from '../../productsearch/v1/ExplainMatchRequest';
import type { ExplainMatchResponse as _productsearch_v1_ExplainMatchResponse, ExplainMatchResponse__Output as _productsearch_v1_ExplainMatchResponse__Output } from '../../productsearch/v1/ExplainMatchResponse';
import type { FindDuplicatesRequest as _productsearch_v1_FindDuplicatesRequest, FindDuplicatesRequest__Output as _productsearch_v1_FindDuplicatesRequest__Output } from '../../productsearch/v1/FindDuplicatesRequest';
import type { GetCatalogRequest as _productsearch_v1_GetCatalogRequest, GetCatalogRequest__Output as _productsearch_v1_GetCatalogRequest__Output } from '../../productsearch/v1/GetCatalogRequest';
import type { GetCatalogResponse as _productsearch_v1_GetCatalogResponse, GetCatalogResponse__Output as _productsearch_v1_GetCatalogResponse__Output } from '../../productsearch/v1/GetCatalogResponse';
import type { GetProductRequest as _productsearch_v1_GetProductRequest, GetProductRequest__Output as _productsearch_v1_GetProductRequest__Output } from '../../productsearch/v1/GetProductRequest';
import type { GetProductResponse as _productsearch_v1_GetProductResponse, GetProductResponse__Output as _productsearch_v1_GetProductResponse__Output } from '../../productsearch/v1/GetProductResponse';
import type { GetStatsRequest as _productsearch_v1_GetStatsRequest, GetStatsRequest__Output as _productsearch_v1_GetStatsRequest__Output } from '../../productsearch/v1/GetStatsRequest';
import type { GetStatsResponse as _productsearch_v1_GetStatsResponse, GetStatsResponse__Output as _productsearch_v1_GetStatsResponse__Output } from '../../productsearch/v1/GetStatsResponse';
import type { ListCatalogsRequest as _productsearch_v1_ListCatalogsRequest, ListCatalogsRequest__Output as _productsearch_v1_ListCatalogsRequest__Output } from '../../productsearch/v1/ListCatalogsRequest';
import type { ListCatalogsResponse as _productsearch_v1_ListCatalogsResponse, ListCatalogsResponse__Output as _productsearch_v1_ListCatalogsResponse__Output } from '../../productsearch/v1/ListCatalogsResponse';
import type { ListProductsRequest as _productsearch_v1_ListProductsRequest, ListProductsRequest__Output as _productsearch_v1_ListProductsRequest__Output } from '../../productsearch/v1/ListProductsRequest';
import type { ListProductsResponse as _productsearch_v1_ListProductsResponse, ListProductsResponse__Output as _productsearch_v1_ListProductsResponse__Output } from '../../productsearch/v1/ListProductsResponse';
import type { SearchByImageRequest as _productsearch_v1_SearchByImageRequest, SearchByImageRequest__Output as _productsearch_v1_SearchByImageRequest__Output } from '../../productsearch/v1/SearchByImageRequest';
import type { SearchByTextRequest as _productsearch_v1_SearchByTextRequest, SearchByTextRequest__Output as _productsearch_v1_SearchByTextRequest__Output } from '../../productsearch/v1/SearchByTextRequest';
import type { SearchResponse as _productsearch_v1_SearchResponse, SearchResponse__Output as _productsearch_v1_SearchResponse__Output } from '../../productsearch/v1/SearchResponse';
import type { SearchSimilarRequest as _productsearch_v1_SearchSimilarRequest, SearchSimilarRequest__Output as _productsearch_v1_SearchSimilarRequest__Output } from '../../productsearch/v1/SearchSimilarRequest';
import type { TrainImageHeadRequest as _productsearch_v1_TrainImageHeadRequest, TrainImageHeadRequest__Output as _productsearch_v1_TrainImageHeadRequest__Output } from '../../productsearch/v1/TrainImageHeadRequest';
import type { TrainImageHeadResponse as _productsearch_v1_TrainImageHeadResponse, TrainImageHeadResponse__Output as _productsearch_v1_TrainImageHeadResponse__Output } from '../../productsearch/v1/TrainImageHeadResponse';
import type { TrainProjectionRequest as _productsearch_v1_TrainProjectionRequest, TrainProjectionRequest__Output as _productsearch_v1_TrainProjectionRequest__Output } from '../../productsearch/v1/TrainProjectionRequest';
import type { TrainProjectionResponse as _productsearch_v1_TrainProjectionResponse, TrainProjectionResponse__Output as _productsearch_v1_TrainProjectionResponse__Output } from '../../productsearch/v1/TrainProjectionResponse';
import type { UpsertProductsRequest as _productsearch_v1_UpsertProductsRequest, UpsertProductsRequest__Output as _productsearch_v1_UpsertProductsRequest__Output } from '../../productsearch/v1/UpsertProductsRequest';
import type { UpsertProductsResponse as _productsearch_v1_UpsertProductsResponse, UpsertProductsResponse__Output as _productsearch_v1_UpsertProductsResponse__Output } from '../../productsearch/v1/UpsertProductsResponse';

/**
 * ProductSearch is the service other backends call. Products live in catalogs; every call
 * names one (`catalog`, empty for `catalogs/default`). Errors use canonical gRPC codes:
 * INVALID_ARGUMENT (with google.rpc.BadRequest field violations) for bad input, NOT_FOUND
 * for unknown ids and catalogs, PERMISSION_DENIED for a key limited to other catalogs,
 * UNAVAILABLE while the embedding models are down, DEADLINE_EXCEEDED when the caller's
 * deadline passes.
 */
export interface ProductSearchClient extends grpc.Client {
  /**
   * CreateCatalog (admin) creates an empty catalog; ALREADY_EXISTS when its id is taken.
   */
  CreateCatalog(argument: _productsearch_v1_CreateCatalogRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_CreateCatalogResponse__Output>): grpc.ClientUnaryCall;
  CreateCatalog(argument: _productsearch_v1_CreateCatalogRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_CreateCatalogResponse__Output>): grpc.ClientUnaryCall;
  CreateCatalog(argument: _productsearch_v1_CreateCatalogRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_CreateCatalogResponse__Output>): grpc.ClientUnaryCall;
  CreateCatalog(argument: _productsearch_v1_CreateCatalogRequest, callback: grpc.requestCallback<_productsearch_v1_CreateCatalogResponse__Output>): grpc.ClientUnaryCall;
  /**
   * CreateCatalog (admin) creates an empty catalog; ALREADY_EXISTS when its id is taken.
   */
  createCatalog(argument: _productsearch_v1_CreateCatalogRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_CreateCatalogResponse__Output>): grpc.ClientUnaryCall;
  createCatalog(argument: _productsearch_v1_CreateCatalogRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_CreateCatalogResponse__Output>): grpc.ClientUnaryCall;
  createCatalog(argument: _productsearch_v1_CreateCatalogRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_CreateCatalogResponse__Output>): grpc.ClientUnaryCall;
  createCatalog(argument: _productsearch_v1_CreateCatalogRequest, callback: grpc.requestCallback<_productsearch_v1_CreateCatalogResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * DeleteCatalog (admin) removes a catalog with its products, vectors, images and trained
   * models, and frees their disk space. FAILED_PRECONDITION for the default catalog, and for
   * a catalog that still has products unless `force` is set.
   */
  DeleteCatalog(argument: _productsearch_v1_DeleteCatalogRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_DeleteCatalogResponse__Output>): grpc.ClientUnaryCall;
  DeleteCatalog(argument: _productsearch_v1_DeleteCatalogRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_DeleteCatalogResponse__Output>): grpc.ClientUnaryCall;
  DeleteCatalog(argument: _productsearch_v1_DeleteCatalogRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_DeleteCatalogResponse__Output>): grpc.ClientUnaryCall;
  DeleteCatalog(argument: _productsearch_v1_DeleteCatalogRequest, callback: grpc.requestCallback<_productsearch_v1_DeleteCatalogResponse__Output>): grpc.ClientUnaryCall;
  /**
   * DeleteCatalog (admin) removes a catalog with its products, vectors, images and trained
   * models, and frees their disk space. FAILED_PRECONDITION for the default catalog, and for
   * a catalog that still has products unless `force` is set.
   */
  deleteCatalog(argument: _productsearch_v1_DeleteCatalogRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_DeleteCatalogResponse__Output>): grpc.ClientUnaryCall;
  deleteCatalog(argument: _productsearch_v1_DeleteCatalogRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_DeleteCatalogResponse__Output>): grpc.ClientUnaryCall;
  deleteCatalog(argument: _productsearch_v1_DeleteCatalogRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_DeleteCatalogResponse__Output>): grpc.ClientUnaryCall;
  deleteCatalog(argument: _productsearch_v1_DeleteCatalogRequest, callback: grpc.requestCallback<_productsearch_v1_DeleteCatalogResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * DeleteProducts removes products from the catalog and every index.
   */
  DeleteProducts(argument: _productsearch_v1_DeleteProductsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_DeleteProductsResponse__Output>): grpc.ClientUnaryCall;
  DeleteProducts(argument: _productsearch_v1_DeleteProductsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_DeleteProductsResponse__Output>): grpc.ClientUnaryCall;
  DeleteProducts(argument: _productsearch_v1_DeleteProductsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_DeleteProductsResponse__Output>): grpc.ClientUnaryCall;
  DeleteProducts(argument: _productsearch_v1_DeleteProductsRequest, callback: grpc.requestCallback<_productsearch_v1_DeleteProductsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * DeleteProducts removes products from the catalog and every index.
   */
  deleteProducts(argument: _productsearch_v1_DeleteProductsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_DeleteProductsResponse__Output>): grpc.ClientUnaryCall;
  deleteProducts(argument: _productsearch_v1_DeleteProductsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_DeleteProductsResponse__Output>): grpc.ClientUnaryCall;
  deleteProducts(argument: _productsearch_v1_DeleteProductsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_DeleteProductsResponse__Output>): grpc.ClientUnaryCall;
  deleteProducts(argument: _productsearch_v1_DeleteProductsRequest, callback: grpc.requestCallback<_productsearch_v1_DeleteProductsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * ExplainMatch says why a product matches a query ("why this match"): a heatmap of the
   * regions of the product's image that look like the query. Costs one image-model call on
   * the product's stored image (plus one for an image query): ask for the hits you show.
   * NOT_FOUND for an unknown product, INVALID_ARGUMENT for a missing, undecodable or
   * oversized query, FAILED_PRECONDITION for a text query before a projection is trained.
   */
  ExplainMatch(argument: _productsearch_v1_ExplainMatchRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_ExplainMatchResponse__Output>): grpc.ClientUnaryCall;
  ExplainMatch(argument: _productsearch_v1_ExplainMatchRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_ExplainMatchResponse__Output>): grpc.ClientUnaryCall;
  ExplainMatch(argument: _productsearch_v1_ExplainMatchRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_ExplainMatchResponse__Output>): grpc.ClientUnaryCall;
  ExplainMatch(argument: _productsearch_v1_ExplainMatchRequest, callback: grpc.requestCallback<_productsearch_v1_ExplainMatchResponse__Output>): grpc.ClientUnaryCall;
  /**
   * ExplainMatch says why a product matches a query ("why this match"): a heatmap of the
   * regions of the product's image that look like the query. Costs one image-model call on
   * the product's stored image (plus one for an image query): ask for the hits you show.
   * NOT_FOUND for an unknown product, INVALID_ARGUMENT for a missing, undecodable or
   * oversized query, FAILED_PRECONDITION for a text query before a projection is trained.
   */
  explainMatch(argument: _productsearch_v1_ExplainMatchRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_ExplainMatchResponse__Output>): grpc.ClientUnaryCall;
  explainMatch(argument: _productsearch_v1_ExplainMatchRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_ExplainMatchResponse__Output>): grpc.ClientUnaryCall;
  explainMatch(argument: _productsearch_v1_ExplainMatchRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_ExplainMatchResponse__Output>): grpc.ClientUnaryCall;
  explainMatch(argument: _productsearch_v1_ExplainMatchRequest, callback: grpc.requestCallback<_productsearch_v1_ExplainMatchResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * FindDuplicates returns products whose image is a near-copy of the given image (cropped
   * by up to 11 % per side, resized, recompressed, mirrored, brightened): score = copy score.
   * A nearest product whose best-agreeing cells match (a caption or logo over the rest) is a
   * copy too (the "partial" signal). Images of 128 px and more are also verified with local features, which finds rotated,
   * cropped, framed and overlaid copies (the "geometry" signal), and every hit of such an
   * image is checked in colour (the same picture in another colour is no copy). A smaller
   * image is also matched as a window of its nearest products' images, which finds crops
   * (the "template" signal).
   */
  FindDuplicates(argument: _productsearch_v1_FindDuplicatesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  FindDuplicates(argument: _productsearch_v1_FindDuplicatesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  FindDuplicates(argument: _productsearch_v1_FindDuplicatesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  FindDuplicates(argument: _productsearch_v1_FindDuplicatesRequest, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  /**
   * FindDuplicates returns products whose image is a near-copy of the given image (cropped
   * by up to 11 % per side, resized, recompressed, mirrored, brightened): score = copy score.
   * A nearest product whose best-agreeing cells match (a caption or logo over the rest) is a
   * copy too (the "partial" signal). Images of 128 px and more are also verified with local features, which finds rotated,
   * cropped, framed and overlaid copies (the "geometry" signal), and every hit of such an
   * image is checked in colour (the same picture in another colour is no copy). A smaller
   * image is also matched as a window of its nearest products' images, which finds crops
   * (the "template" signal).
   */
  findDuplicates(argument: _productsearch_v1_FindDuplicatesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  findDuplicates(argument: _productsearch_v1_FindDuplicatesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  findDuplicates(argument: _productsearch_v1_FindDuplicatesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  findDuplicates(argument: _productsearch_v1_FindDuplicatesRequest, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * GetCatalog describes one catalog; NOT_FOUND when unknown.
   */
  GetCatalog(argument: _productsearch_v1_GetCatalogRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_GetCatalogResponse__Output>): grpc.ClientUnaryCall;
  GetCatalog(argument: _productsearch_v1_GetCatalogRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_GetCatalogResponse__Output>): grpc.ClientUnaryCall;
  GetCatalog(argument: _productsearch_v1_GetCatalogRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_GetCatalogResponse__Output>): grpc.ClientUnaryCall;
  GetCatalog(argument: _productsearch_v1_GetCatalogRequest, callback: grpc.requestCallback<_productsearch_v1_GetCatalogResponse__Output>): grpc.ClientUnaryCall;
  /**
   * GetCatalog describes one catalog; NOT_FOUND when unknown.
   */
  getCatalog(argument: _productsearch_v1_GetCatalogRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_GetCatalogResponse__Output>): grpc.ClientUnaryCall;
  getCatalog(argument: _productsearch_v1_GetCatalogRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_GetCatalogResponse__Output>): grpc.ClientUnaryCall;
  getCatalog(argument: _productsearch_v1_GetCatalogRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_GetCatalogResponse__Output>): grpc.ClientUnaryCall;
  getCatalog(argument: _productsearch_v1_GetCatalogRequest, callback: grpc.requestCallback<_productsearch_v1_GetCatalogResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * GetProduct returns one product by id; NOT_FOUND when unknown.
   */
  GetProduct(argument: _productsearch_v1_GetProductRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_GetProductResponse__Output>): grpc.ClientUnaryCall;
  GetProduct(argument: _productsearch_v1_GetProductRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_GetProductResponse__Output>): grpc.ClientUnaryCall;
  GetProduct(argument: _productsearch_v1_GetProductRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_GetProductResponse__Output>): grpc.ClientUnaryCall;
  GetProduct(argument: _productsearch_v1_GetProductRequest, callback: grpc.requestCallback<_productsearch_v1_GetProductResponse__Output>): grpc.ClientUnaryCall;
  /**
   * GetProduct returns one product by id; NOT_FOUND when unknown.
   */
  getProduct(argument: _productsearch_v1_GetProductRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_GetProductResponse__Output>): grpc.ClientUnaryCall;
  getProduct(argument: _productsearch_v1_GetProductRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_GetProductResponse__Output>): grpc.ClientUnaryCall;
  getProduct(argument: _productsearch_v1_GetProductRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_GetProductResponse__Output>): grpc.ClientUnaryCall;
  getProduct(argument: _productsearch_v1_GetProductRequest, callback: grpc.requestCallback<_productsearch_v1_GetProductResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * GetStats describes the catalog, the models and the indexes.
   */
  GetStats(argument: _productsearch_v1_GetStatsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_GetStatsResponse__Output>): grpc.ClientUnaryCall;
  GetStats(argument: _productsearch_v1_GetStatsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_GetStatsResponse__Output>): grpc.ClientUnaryCall;
  GetStats(argument: _productsearch_v1_GetStatsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_GetStatsResponse__Output>): grpc.ClientUnaryCall;
  GetStats(argument: _productsearch_v1_GetStatsRequest, callback: grpc.requestCallback<_productsearch_v1_GetStatsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * GetStats describes the catalog, the models and the indexes.
   */
  getStats(argument: _productsearch_v1_GetStatsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_GetStatsResponse__Output>): grpc.ClientUnaryCall;
  getStats(argument: _productsearch_v1_GetStatsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_GetStatsResponse__Output>): grpc.ClientUnaryCall;
  getStats(argument: _productsearch_v1_GetStatsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_GetStatsResponse__Output>): grpc.ClientUnaryCall;
  getStats(argument: _productsearch_v1_GetStatsRequest, callback: grpc.requestCallback<_productsearch_v1_GetStatsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * ListCatalogs pages through the catalogs the caller's key may use, in id order.
   */
  ListCatalogs(argument: _productsearch_v1_ListCatalogsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_ListCatalogsResponse__Output>): grpc.ClientUnaryCall;
  ListCatalogs(argument: _productsearch_v1_ListCatalogsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_ListCatalogsResponse__Output>): grpc.ClientUnaryCall;
  ListCatalogs(argument: _productsearch_v1_ListCatalogsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_ListCatalogsResponse__Output>): grpc.ClientUnaryCall;
  ListCatalogs(argument: _productsearch_v1_ListCatalogsRequest, callback: grpc.requestCallback<_productsearch_v1_ListCatalogsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * ListCatalogs pages through the catalogs the caller's key may use, in id order.
   */
  listCatalogs(argument: _productsearch_v1_ListCatalogsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_ListCatalogsResponse__Output>): grpc.ClientUnaryCall;
  listCatalogs(argument: _productsearch_v1_ListCatalogsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_ListCatalogsResponse__Output>): grpc.ClientUnaryCall;
  listCatalogs(argument: _productsearch_v1_ListCatalogsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_ListCatalogsResponse__Output>): grpc.ClientUnaryCall;
  listCatalogs(argument: _productsearch_v1_ListCatalogsRequest, callback: grpc.requestCallback<_productsearch_v1_ListCatalogsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * ListProducts pages through the catalog in id order.
   */
  ListProducts(argument: _productsearch_v1_ListProductsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_ListProductsResponse__Output>): grpc.ClientUnaryCall;
  ListProducts(argument: _productsearch_v1_ListProductsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_ListProductsResponse__Output>): grpc.ClientUnaryCall;
  ListProducts(argument: _productsearch_v1_ListProductsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_ListProductsResponse__Output>): grpc.ClientUnaryCall;
  ListProducts(argument: _productsearch_v1_ListProductsRequest, callback: grpc.requestCallback<_productsearch_v1_ListProductsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * ListProducts pages through the catalog in id order.
   */
  listProducts(argument: _productsearch_v1_ListProductsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_ListProductsResponse__Output>): grpc.ClientUnaryCall;
  listProducts(argument: _productsearch_v1_ListProductsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_ListProductsResponse__Output>): grpc.ClientUnaryCall;
  listProducts(argument: _productsearch_v1_ListProductsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_ListProductsResponse__Output>): grpc.ClientUnaryCall;
  listProducts(argument: _productsearch_v1_ListProductsRequest, callback: grpc.requestCallback<_productsearch_v1_ListProductsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * SearchByImage ranks products by visual similarity to an example image.
   */
  SearchByImage(argument: _productsearch_v1_SearchByImageRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  SearchByImage(argument: _productsearch_v1_SearchByImageRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  SearchByImage(argument: _productsearch_v1_SearchByImageRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  SearchByImage(argument: _productsearch_v1_SearchByImageRequest, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  /**
   * SearchByImage ranks products by visual similarity to an example image.
   */
  searchByImage(argument: _productsearch_v1_SearchByImageRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  searchByImage(argument: _productsearch_v1_SearchByImageRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  searchByImage(argument: _productsearch_v1_SearchByImageRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  searchByImage(argument: _productsearch_v1_SearchByImageRequest, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * SearchByText ranks products by similarity of their titles to a keyword or sentence.
   */
  SearchByText(argument: _productsearch_v1_SearchByTextRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  SearchByText(argument: _productsearch_v1_SearchByTextRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  SearchByText(argument: _productsearch_v1_SearchByTextRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  SearchByText(argument: _productsearch_v1_SearchByTextRequest, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  /**
   * SearchByText ranks products by similarity of their titles to a keyword or sentence.
   */
  searchByText(argument: _productsearch_v1_SearchByTextRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  searchByText(argument: _productsearch_v1_SearchByTextRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  searchByText(argument: _productsearch_v1_SearchByTextRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  searchByText(argument: _productsearch_v1_SearchByTextRequest, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * SearchSimilar ranks products by visual similarity to a catalog product.
   */
  SearchSimilar(argument: _productsearch_v1_SearchSimilarRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  SearchSimilar(argument: _productsearch_v1_SearchSimilarRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  SearchSimilar(argument: _productsearch_v1_SearchSimilarRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  SearchSimilar(argument: _productsearch_v1_SearchSimilarRequest, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  /**
   * SearchSimilar ranks products by visual similarity to a catalog product.
   */
  searchSimilar(argument: _productsearch_v1_SearchSimilarRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  searchSimilar(argument: _productsearch_v1_SearchSimilarRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  searchSimilar(argument: _productsearch_v1_SearchSimilarRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  searchSimilar(argument: _productsearch_v1_SearchSimilarRequest, callback: grpc.requestCallback<_productsearch_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * TrainImageHead (admin) fits the catalog's image head on its categorised products (a
   * supervised contrastive MLP on the image model's embeddings) and has Triton serve it as
   * a new model version. It returns once that version is served; the catalog is then
   * embedded with it in the background while searches go on with the previous one, and
   * image searches move to it when every product is in (GetStats lists it among the
   * models from then on). Give it a deadline of minutes: it embeds two views of each
   * product's image first (up to 20,000 products). FAILED_PRECONDITION with too few
   * categorised products, or while the previous version is still moving in.
   */
  TrainImageHead(argument: _productsearch_v1_TrainImageHeadRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_TrainImageHeadResponse__Output>): grpc.ClientUnaryCall;
  TrainImageHead(argument: _productsearch_v1_TrainImageHeadRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_TrainImageHeadResponse__Output>): grpc.ClientUnaryCall;
  TrainImageHead(argument: _productsearch_v1_TrainImageHeadRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_TrainImageHeadResponse__Output>): grpc.ClientUnaryCall;
  TrainImageHead(argument: _productsearch_v1_TrainImageHeadRequest, callback: grpc.requestCallback<_productsearch_v1_TrainImageHeadResponse__Output>): grpc.ClientUnaryCall;
  /**
   * TrainImageHead (admin) fits the catalog's image head on its categorised products (a
   * supervised contrastive MLP on the image model's embeddings) and has Triton serve it as
   * a new model version. It returns once that version is served; the catalog is then
   * embedded with it in the background while searches go on with the previous one, and
   * image searches move to it when every product is in (GetStats lists it among the
   * models from then on). Give it a deadline of minutes: it embeds two views of each
   * product's image first (up to 20,000 products). FAILED_PRECONDITION with too few
   * categorised products, or while the previous version is still moving in.
   */
  trainImageHead(argument: _productsearch_v1_TrainImageHeadRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_TrainImageHeadResponse__Output>): grpc.ClientUnaryCall;
  trainImageHead(argument: _productsearch_v1_TrainImageHeadRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_TrainImageHeadResponse__Output>): grpc.ClientUnaryCall;
  trainImageHead(argument: _productsearch_v1_TrainImageHeadRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_TrainImageHeadResponse__Output>): grpc.ClientUnaryCall;
  trainImageHead(argument: _productsearch_v1_TrainImageHeadRequest, callback: grpc.requestCallback<_productsearch_v1_TrainImageHeadResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * TrainProjection (admin) retrains the catalog's text → image projection from its titled
   * products (their titles and spans of them) and the category names of its categorised
   * products, and has Triton serve it as a new model version; searches go on meanwhile.
   * FAILED_PRECONDITION when the catalog has too few titled products.
   */
  TrainProjection(argument: _productsearch_v1_TrainProjectionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_TrainProjectionResponse__Output>): grpc.ClientUnaryCall;
  TrainProjection(argument: _productsearch_v1_TrainProjectionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_TrainProjectionResponse__Output>): grpc.ClientUnaryCall;
  TrainProjection(argument: _productsearch_v1_TrainProjectionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_TrainProjectionResponse__Output>): grpc.ClientUnaryCall;
  TrainProjection(argument: _productsearch_v1_TrainProjectionRequest, callback: grpc.requestCallback<_productsearch_v1_TrainProjectionResponse__Output>): grpc.ClientUnaryCall;
  /**
   * TrainProjection (admin) retrains the catalog's text → image projection from its titled
   * products (their titles and spans of them) and the category names of its categorised
   * products, and has Triton serve it as a new model version; searches go on meanwhile.
   * FAILED_PRECONDITION when the catalog has too few titled products.
   */
  trainProjection(argument: _productsearch_v1_TrainProjectionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_TrainProjectionResponse__Output>): grpc.ClientUnaryCall;
  trainProjection(argument: _productsearch_v1_TrainProjectionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_TrainProjectionResponse__Output>): grpc.ClientUnaryCall;
  trainProjection(argument: _productsearch_v1_TrainProjectionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_TrainProjectionResponse__Output>): grpc.ClientUnaryCall;
  trainProjection(argument: _productsearch_v1_TrainProjectionRequest, callback: grpc.requestCallback<_productsearch_v1_TrainProjectionResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * UpsertProducts streams products in; each is created or replaced by id. The summary
   * has one status per product; a product is acknowledged (OK) only once committed.
   */
  UpsertProducts(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_UpsertProductsResponse__Output>): grpc.ClientWritableStream<_productsearch_v1_UpsertProductsRequest>;
  UpsertProducts(metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_UpsertProductsResponse__Output>): grpc.ClientWritableStream<_productsearch_v1_UpsertProductsRequest>;
  UpsertProducts(options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_UpsertProductsResponse__Output>): grpc.ClientWritableStream<_productsearch_v1_UpsertProductsRequest>;
  UpsertProducts(callback: grpc.requestCallback<_productsearch_v1_UpsertProductsResponse__Output>): grpc.ClientWritableStream<_productsearch_v1_UpsertProductsRequest>;
  /**
   * UpsertProducts streams products in; each is created or replaced by id. The summary
   * has one status per product; a product is acknowledged (OK) only once committed.
   */
  upsertProducts(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_UpsertProductsResponse__Output>): grpc.ClientWritableStream<_productsearch_v1_UpsertProductsRequest>;
  upsertProducts(metadata: grpc.Metadata, callback: grpc.requestCallback<_productsearch_v1_UpsertProductsResponse__Output>): grpc.ClientWritableStream<_productsearch_v1_UpsertProductsRequest>;
  upsertProducts(options: grpc.CallOptions, callback: grpc.requestCallback<_productsearch_v1_UpsertProductsResponse__Output>): grpc.ClientWritableStream<_productsearch_v1_UpsertProductsRequest>;
  upsertProducts(callback: grpc.requestCallback<_productsearch_v1_UpsertProductsResponse__Output>): grpc.ClientWritableStream<_productsearch_v1_UpsertProductsRequest>;
  
}

/**
 * ProductSearch is the service other backends call. Products live in catalogs; every call
 * names one (`catalog`, empty for `catalogs/default`). Errors use canonical gRPC codes:
 * INVALID_ARGUMENT (with google.rpc.BadRequest field violations) for bad input, NOT_FOUND
 * for unknown ids and catalogs, PERMISSION_DENIED for a key limited to other catalogs,
 * UNAVAILABLE while the embedding models are down, DEADLINE_EXCEEDED when the caller's
 * deadline passes.
 */
export interface ProductSearchHandlers extends grpc.UntypedServiceImplementation {
  /**
   * CreateCatalog (admin) creates an empty catalog; ALREADY_EXISTS when its id is taken.
   */
  CreateCatalog: grpc.handleUnaryCall<_productsearch_v1_CreateCatalogRequest__Output, _productsearch_v1_CreateCatalogResponse>;
  
  /**
   * DeleteCatalog (admin) removes a catalog with its products, vectors, images and trained
   * models, and frees their disk space. FAILED_PRECONDITION for the default catalog, and for
   * a catalog that still has products unless `force` is set.
   */
  DeleteCatalog: grpc.handleUnaryCall<_productsearch_v1_DeleteCatalogRequest__Output, _productsearch_v1_DeleteCatalogResponse>;
  
  /**
   * DeleteProducts removes products from the catalog and every index.
   */
  DeleteProducts: grpc.handleUnaryCall<_productsearch_v1_DeleteProductsRequest__Output, _productsearch_v1_DeleteProductsResponse>;
  
  /**
   * ExplainMatch says why a product matches a query ("why this match"): a heatmap of the
   * regions of the product's image that look like the query. Costs one image-model call on
   * the product's stored image (plus one for an image query): ask for the hits you show.
   * NOT_FOUND for an unknown product, INVALID_ARGUMENT for a missing, undecodable or
   * oversized query, FAILED_PRECONDITION for a text query before a projection is trained.
   */
  ExplainMatch: grpc.handleUnaryCall<_productsearch_v1_ExplainMatchRequest__Output, _productsearch_v1_ExplainMatchResponse>;
  
  /**
   * FindDuplicates returns products whose image is a near-copy of the given image (cropped
   * by up to 11 % per side, resized, recompressed, mirrored, brightened): score = copy score.
   * A nearest product whose best-agreeing cells match (a caption or logo over the rest) is a
   * copy too (the "partial" signal). Images of 128 px and more are also verified with local features, which finds rotated,
   * cropped, framed and overlaid copies (the "geometry" signal), and every hit of such an
   * image is checked in colour (the same picture in another colour is no copy). A smaller
   * image is also matched as a window of its nearest products' images, which finds crops
   * (the "template" signal).
   */
  FindDuplicates: grpc.handleUnaryCall<_productsearch_v1_FindDuplicatesRequest__Output, _productsearch_v1_SearchResponse>;
  
  /**
   * GetCatalog describes one catalog; NOT_FOUND when unknown.
   */
  GetCatalog: grpc.handleUnaryCall<_productsearch_v1_GetCatalogRequest__Output, _productsearch_v1_GetCatalogResponse>;
  
  /**
   * GetProduct returns one product by id; NOT_FOUND when unknown.
   */
  GetProduct: grpc.handleUnaryCall<_productsearch_v1_GetProductRequest__Output, _productsearch_v1_GetProductResponse>;
  
  /**
   * GetStats describes the catalog, the models and the indexes.
   */
  GetStats: grpc.handleUnaryCall<_productsearch_v1_GetStatsRequest__Output, _productsearch_v1_GetStatsResponse>;
  
  /**
   * ListCatalogs pages through the catalogs the caller's key may use, in id order.
   */
  ListCatalogs: grpc.handleUnaryCall<_productsearch_v1_ListCatalogsRequest__Output, _productsearch_v1_ListCatalogsResponse>;
  
  /**
   * ListProducts pages through the catalog in id order.
   */
  ListProducts: grpc.handleUnaryCall<_productsearch_v1_ListProductsRequest__Output, _productsearch_v1_ListProductsResponse>;
  
  /**
   * SearchByImage ranks products by visual similarity to an example image.
   */
  SearchByImage: grpc.handleUnaryCall<_productsearch_v1_SearchByImageRequest__Output, _productsearch_v1_SearchResponse>;
  
  /**
   * SearchByText ranks products by similarity of their titles to a keyword or sentence.
   */
  SearchByText: grpc.handleUnaryCall<_productsearch_v1_SearchByTextRequest__Output, _productsearch_v1_SearchResponse>;
  
  /**
   * SearchSimilar ranks products by visual similarity to a catalog product.
   */
  SearchSimilar: grpc.handleUnaryCall<_productsearch_v1_SearchSimilarRequest__Output, _productsearch_v1_SearchResponse>;
  
  /**
   * TrainImageHead (admin) fits the catalog's image head on its categorised products (a
   * supervised contrastive MLP on the image model's embeddings) and has Triton serve it as
   * a new model version. It returns once that version is served; the catalog is then
   * embedded with it in the background while searches go on with the previous one, and
   * image searches move to it when every product is in (GetStats lists it among the
   * models from then on). Give it a deadline of minutes: it embeds two views of each
   * product's image first (up to 20,000 products). FAILED_PRECONDITION with too few
   * categorised products, or while the previous version is still moving in.
   */
  TrainImageHead: grpc.handleUnaryCall<_productsearch_v1_TrainImageHeadRequest__Output, _productsearch_v1_TrainImageHeadResponse>;
  
  /**
   * TrainProjection (admin) retrains the catalog's text → image projection from its titled
   * products (their titles and spans of them) and the category names of its categorised
   * products, and has Triton serve it as a new model version; searches go on meanwhile.
   * FAILED_PRECONDITION when the catalog has too few titled products.
   */
  TrainProjection: grpc.handleUnaryCall<_productsearch_v1_TrainProjectionRequest__Output, _productsearch_v1_TrainProjectionResponse>;
  
  /**
   * UpsertProducts streams products in; each is created or replaced by id. The summary
   * has one status per product; a product is acknowledged (OK) only once committed.
   */
  UpsertProducts: grpc.handleClientStreamingCall<_productsearch_v1_UpsertProductsRequest__Output, _productsearch_v1_UpsertProductsResponse>;
  
}

export interface ProductSearchDefinition extends grpc.ServiceDefinition {
  CreateCatalog: MethodDefinition<_productsearch_v1_CreateCatalogRequest, _productsearch_v1_CreateCatalogResponse, _productsearch_v1_CreateCatalogRequest__Output, _productsearch_v1_CreateCatalogResponse__Output>
  DeleteCatalog: MethodDefinition<_productsearch_v1_DeleteCatalogRequest, _productsearch_v1_DeleteCatalogResponse, _productsearch_v1_DeleteCatalogRequest__Output, _productsearch_v1_DeleteCatalogResponse__Output>
  DeleteProducts: MethodDefinition<_productsearch_v1_DeleteProductsRequest, _productsearch_v1_DeleteProductsResponse, _productsearch_v1_DeleteProductsRequest__Output, _productsearch_v1_DeleteProductsResponse__Output>
  ExplainMatch: MethodDefinition<_productsearch_v1_ExplainMatchRequest, _productsearch_v1_ExplainMatchResponse, _productsearch_v1_ExplainMatchRequest__Output, _productsearch_v1_ExplainMatchResponse__Output>
  FindDuplicates: MethodDefinition<_productsearch_v1_FindDuplicatesRequest, _productsearch_v1_SearchResponse, _productsearch_v1_FindDuplicatesRequest__Output, _productsearch_v1_SearchResponse__Output>
  GetCatalog: MethodDefinition<_productsearch_v1_GetCatalogRequest, _productsearch_v1_GetCatalogResponse, _productsearch_v1_GetCatalogRequest__Output, _productsearch_v1_GetCatalogResponse__Output>
  GetProduct: MethodDefinition<_productsearch_v1_GetProductRequest, _productsearch_v1_GetProductResponse, _productsearch_v1_GetProductRequest__Output, _productsearch_v1_GetProductResponse__Output>
  GetStats: MethodDefinition<_productsearch_v1_GetStatsRequest, _productsearch_v1_GetStatsResponse, _productsearch_v1_GetStatsRequest__Output, _productsearch_v1_GetStatsResponse__Output>
  ListCatalogs: MethodDefinition<_productsearch_v1_ListCatalogsRequest, _productsearch_v1_ListCatalogsResponse, _productsearch_v1_ListCatalogsRequest__Output, _productsearch_v1_ListCatalogsResponse__Output>
  ListProducts: MethodDefinition<_productsearch_v1_ListProductsRequest, _productsearch_v1_ListProductsResponse, _productsearch_v1_ListProductsRequest__Output, _productsearch_v1_ListProductsResponse__Output>
  SearchByImage: MethodDefinition<_productsearch_v1_SearchByImageRequest, _productsearch_v1_SearchResponse, _productsearch_v1_SearchByImageRequest__Output, _productsearch_v1_SearchResponse__Output>
  SearchByText: MethodDefinition<_productsearch_v1_SearchByTextRequest, _productsearch_v1_SearchResponse, _productsearch_v1_SearchByTextRequest__Output, _productsearch_v1_SearchResponse__Output>
  SearchSimilar: MethodDefinition<_productsearch_v1_SearchSimilarRequest, _productsearch_v1_SearchResponse, _productsearch_v1_SearchSimilarRequest__Output, _productsearch_v1_SearchResponse__Output>
  TrainImageHead: MethodDefinition<_productsearch_v1_TrainImageHeadRequest, _productsearch_v1_TrainImageHeadResponse, _productsearch_v1_TrainImageHeadRequest__Output, _productsearch_v1_TrainImageHeadResponse__Output>
  TrainProjection: MethodDefinition<_productsearch_v1_TrainProjectionRequest, _productsearch_v1_TrainProjectionResponse, _productsearch_v1_TrainProjectionRequest__Output, _productsearch_v1_TrainProjectionResponse__Output>
  UpsertProducts: MethodDefinition<_productsearch_v1_UpsertProductsRequest, _productsearch_v1_UpsertProductsResponse, _productsearch_v1_UpsertProductsRequest__Output, _productsearch_v1_UpsertProductsResponse__Output>
}
