// productsearch-client: a Node.js client for the productsearch.v1 gRPC API.
export {
  type CallOptions,
  type ClientOptions,
  DEFAULT_DEADLINE_S,
  DEFAULT_TARGET,
  type FieldViolation,
  type Filter,
  type Hit,
  IMAGE_EXTENSIONS,
  type Product,
  type Product__Output,
  ProductSearchClient,
  ProductSearchError,
  type ProductStatus,
  type SearchOptions,
  type UpsertSummary,
  folderProducts,
  statusName,
} from "./client";
export { formatHits, formatScore } from "./format";
