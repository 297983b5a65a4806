// ProductSearchClient: a small synchronous C++ client for productsearch.v1.ProductSearch.
//
// Every call carries the client's deadline and, when an API key is set, the metadata
// `authorization: Bearer <key>`. A failed RPC throws productsearch::RpcError, which carries
// the grpc::Status (code and message).
#ifndef PRODUCTSEARCH_CLIENT_H_
#define PRODUCTSEARCH_CLIENT_H_

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "productsearch/v1/product_search.grpc.pb.h"

namespace productsearch {

// StatusCodeName is the canonical name of a gRPC status code ("INVALID_ARGUMENT"), or the
// number as text for a code outside 0..16.
std::string StatusCodeName(int code);

// RpcError is a failed RPC: code() is its gRPC status code, details() the server's message.
class RpcError : public std::runtime_error {
 public:
  explicit RpcError(grpc::Status status);
  grpc::StatusCode code() const { return status_.error_code(); }
  std::string details() const { return status_.error_message(); }
  const grpc::Status& status() const { return status_; }

 private:
  grpc::Status status_;
};

// Product is one catalog item to upsert; `id` and `image` (JPEG, PNG or WebP bytes) are required.
struct Product {
  std::string id;
  std::string title;
  std::string category;
  std::optional<double> price;
  std::map<std::string, std::string> attributes;
  std::string image;
};

// ProductFailure is a streamed product the service rejected (code is a google.rpc.Code).
struct ProductFailure {
  std::string id;
  int code = 0;
  std::string message;
};

// UpsertSummary: how many products were committed and which ones failed, in stream order.
struct UpsertSummary {
  int upserted = 0;
  int failed = 0;
  std::vector<ProductFailure> failures;
};

// SearchOptions are shared by every search; see SearchOptions in the proto.
struct SearchOptions {
  int top_k = 10;                       // 1 to 1,000
  float min_score = 0.0f;               // drop hits below this cosine; 0 keeps all
  std::vector<std::string> categories;  // empty: any category
};

// Hit is one ranked product.
struct Hit {
  std::string product_id;
  float score = 0.0f;
  std::string title;
  std::string category;
  std::optional<double> price;
  std::map<std::string, float> signals;  // "image" / "title" → that signal's cosine
};

// SearchResult carries the hits, best first, and the server's timings.
struct SearchResult {
  std::vector<Hit> hits;
  float embedding_ms = 0.0f;
  float index_ms = 0.0f;
};

class ProductSearchClient {
 public:
  // Plaintext channel to `target` (HOST:PORT). An empty `api_key` sends no authorization.
  explicit ProductSearchClient(const std::string& target, std::string api_key = {},
                               std::chrono::microseconds deadline = std::chrono::seconds(10));
  // Any channel (TLS, custom arguments, in-process).
  ProductSearchClient(std::shared_ptr<grpc::Channel> channel, std::string api_key,
                      std::chrono::microseconds deadline);

  // Upsert streams `products` in one UpsertProducts call.
  UpsertSummary Upsert(const std::vector<Product>& products);
  // UpsertFolder streams every .jpg/.jpeg/.png/.webp file of `folder` (not recursive, sorted
  // by name) as a product: id = file stem, title = trimmed <stem>.txt when present.
  // Files are read one at a time while streaming. Throws std::runtime_error when the folder
  // or a file cannot be read.
  UpsertSummary UpsertFolder(const std::filesystem::path& folder);

  SearchResult SearchByImage(const std::string& image, const SearchOptions& options = {});
  SearchResult SearchByText(const std::string& text, const SearchOptions& options = {});
  SearchResult SearchSimilar(const std::string& product_id, const SearchOptions& options = {});

 private:
  // Prepares a context with the deadline and the authorization metadata.
  void Prepare(grpc::ClientContext& context) const;
  // Streams products produced by `next` (std::nullopt ends the stream).
  UpsertSummary UpsertStream(const std::function<std::optional<Product>()>& next);

  std::unique_ptr<v1::ProductSearch::Stub> stub_;
  std::string api_key_;
  std::chrono::microseconds deadline_;
};

// ImageFiles lists the files UpsertFolder sends, in order.
std::vector<std::filesystem::path> ImageFiles(const std::filesystem::path& folder);

// ReadFile returns a file's bytes; throws std::runtime_error naming the file on failure.
std::string ReadFile(const std::filesystem::path& path);

}  // namespace productsearch

#endif  // PRODUCTSEARCH_CLIENT_H_
