// ProductSearchClient: a small synchronous C++ client for productsearch.v1.ProductSearch.
//
// Every call carries the client's deadline, its catalog (set_catalog; a call may name
// another) and, when an API key is set, the metadata `authorization: Bearer <key>`. A failed
// RPC throws productsearch::RpcError, which carries the grpc::Status (code and message).
#ifndef PRODUCTSEARCH_CLIENT_H_
#define PRODUCTSEARCH_CLIENT_H_

#include <chrono>
#include <cstdint>
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

// CatalogName is the resource name of a catalog given by id ("shop-a") or name
// ("catalogs/shop-a"); empty stays empty, which the server reads as "catalogs/default".
std::string CatalogName(const std::string& catalog);

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
// `truncated`: the server stopped reading after 10,000 products; send the rest again.
struct UpsertSummary {
  int upserted = 0;
  int failed = 0;
  std::vector<ProductFailure> failures;
  bool truncated = false;
};

// SearchOptions are shared by every search; see SearchOptions in the proto.
struct SearchOptions {
  int top_k = 10;                       // 1 to 1,000
  float min_score = 0.0f;               // drop hits below this cosine; 0 keeps all
  std::vector<std::string> categories;  // empty: any category
  std::optional<std::string> catalog;   // id or name; unset: the client's catalog
};

// Catalog is a named, isolated collection of products.
struct Catalog {
  std::string name;  // resource name, "catalogs/{id}"
  std::string display_name;
  std::string description;
  std::chrono::system_clock::time_point create_time;
  int64_t product_count = 0;
  // id is the last part of the name: "shop-a" of "catalogs/shop-a".
  std::string id() const;
};

// FolderEntry is one product image of a folder, as FolderEntries finds it.
struct FolderEntry {
  std::string id;  // path relative to the folder without extension, "/" between folders
  std::filesystem::path path;
  std::string category;  // name of the folder the image is in; empty directly in the folder
  std::string title;     // trimmed UTF-8 text of <stem>.txt beside the image, or empty
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

  // set_catalog makes `catalog` (an id, "shop-a", or a name, "catalogs/shop-a") the one every
  // call uses unless it names another; empty (the default) is the default catalog.
  void set_catalog(const std::string& catalog) { catalog_ = CatalogName(catalog); }
  // catalog is that catalog's resource name; empty for the default catalog.
  const std::string& catalog() const { return catalog_; }

  // Upsert streams `products` in one UpsertProducts call, to `catalog` (unset: the client's).
  UpsertSummary Upsert(const std::vector<Product>& products,
                       const std::optional<std::string>& catalog = std::nullopt);
  // UpsertFolder streams the product images of `folder` (see FolderEntries) as products,
  // reading them one at a time. Throws std::runtime_error when the folder or a file cannot
  // be read.
  UpsertSummary UpsertFolder(const std::filesystem::path& folder,
                             const std::optional<std::string>& catalog = std::nullopt);

  SearchResult SearchByImage(const std::string& image, const SearchOptions& options = {});
  SearchResult SearchByText(const std::string& text, const SearchOptions& options = {});
  SearchResult SearchSimilar(const std::string& product_id, const SearchOptions& options = {});

  // CreateCatalog (admin) creates the empty catalog `catalog_id` ("shop-a": 1 to 63 of a-z,
  // 0-9 and '-', starting with a letter); ALREADY_EXISTS when the id is taken.
  Catalog CreateCatalog(const std::string& catalog_id, const std::string& display_name = {},
                        const std::string& description = {});
  // GetCatalog describes one catalog (an id or a name; empty: the default catalog).
  Catalog GetCatalog(const std::string& catalog);
  // ListCatalogs returns every catalog the API key may use, in id order (all pages; the
  // deadline bounds each page).
  std::vector<Catalog> ListCatalogs();
  // DeleteCatalog (admin) removes a catalog with its products, vectors and models. Without
  // `force` only an empty one (FAILED_PRECONDITION otherwise); never the default catalog.
  void DeleteCatalog(const std::string& catalog, bool force = false);

 private:
  // Prepares a context with the deadline and the authorization metadata.
  void Prepare(grpc::ClientContext& context) const;
  // The resource name a call sends: `catalog` when given, else the client's.
  std::string CatalogOf(const std::optional<std::string>& catalog) const;
  // Streams products produced by `next` (std::nullopt ends the stream).
  UpsertSummary UpsertStream(const std::function<std::optional<Product>()>& next, const std::string& catalog);

  std::unique_ptr<v1::ProductSearch::Stub> stub_;
  std::string api_key_;
  std::chrono::microseconds deadline_;
  std::string catalog_;
};

// FolderEntries lists the product images of `folder` by the rule every client shares with
// the server's `productsearch index --folder`: every regular .jpg/.jpeg/.png/.webp file (any
// case) at any depth; names starting with "." are skipped, links to files are followed,
// links to folders are not descended. Sorted by id in byte (UTF-8) order; images with the
// same id (x.jpg and x.png) in name order, so the later one wins. Throws std::runtime_error
// when a folder cannot be read or a title file is not UTF-8.
std::vector<FolderEntry> FolderEntries(const std::filesystem::path& folder);

// ReadFile returns a file's bytes; throws std::runtime_error naming the file on failure.
std::string ReadFile(const std::filesystem::path& path);

}  // namespace productsearch

#endif  // PRODUCTSEARCH_CLIENT_H_
