#include "productsearch/client.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string_view>
#include <system_error>
#include <utility>

namespace productsearch {
namespace {

namespace pb = ::productsearch::v1;
namespace fs = std::filesystem;

constexpr int kMaxReceiveBytes = 64 * 1024 * 1024;
constexpr std::string_view kCatalogPrefix = "catalogs/";

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// The UTF-8 encodings of the characters Python's str.strip() removes, so that every client
// reads the same title from a <stem>.txt file.
const std::array<std::string_view, 29> kWhitespace = {
    " ",    "\t",   "\n",   "\v",   "\f",   "\r",   "\x1c",   "\x1d",   "\x1e",   "\x1f",
    "\u0085", "\u00a0", "\u1680", "\u2000", "\u2001", "\u2002", "\u2003", "\u2004", "\u2005", "\u2006",
    "\u2007", "\u2008", "\u2009", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000",
};

std::string Trim(std::string_view text) {
  auto strip_one = [&text](bool front) {
    for (const auto space : kWhitespace) {
      if (text.size() < space.size()) continue;
      const auto part = front ? text.substr(0, space.size()) : text.substr(text.size() - space.size());
      if (part == space) {
        front ? text.remove_prefix(space.size()) : text.remove_suffix(space.size());
        return true;
      }
    }
    return false;
  };
  while (strip_one(true)) {
  }
  while (strip_one(false)) {
  }
  return std::string(text);
}

bool IsImageExtension(const std::string& extension) {
  static const std::array<std::string, 4> kExtensions = {".jpg", ".jpeg", ".png", ".webp"};
  return std::find(kExtensions.begin(), kExtensions.end(), Lower(extension)) != kExtensions.end();
}

// Whether `text` is valid UTF-8 as Python's strict decoder reads it: no overlong forms, no
// surrogates, nothing above U+10FFFF.
bool IsUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto byte = [&](size_t at) { return static_cast<unsigned char>(text[at]); };
    const unsigned char lead = byte(i);
    size_t length = 0;
    unsigned char low = 0x80, high = 0xbf;  // the range of the second byte
    if (lead < 0x80) {
      length = 1;
    } else if (lead >= 0xc2 && lead <= 0xdf) {
      length = 2;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      if (lead == 0xe0) low = 0xa0;
      if (lead == 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      if (lead == 0xf0) low = 0x90;
      if (lead == 0xf4) high = 0x8f;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      const unsigned char next = byte(i + k);
      if (next < (k == 1 ? low : 0x80) || next > (k == 1 ? high : 0xbf)) return false;
    }
    i += length;
  }
  return true;
}

// The title in a <stem>.txt file as the server's Python reads it: UTF-8, "\r\n" and "\r" as
// "\n" (text mode), trimmed like str.strip(); empty when it is not a regular file.
std::string ReadTitle(const fs::path& file) {
  std::error_code error;
  if (!fs::is_regular_file(file, error)) return {};
  const std::string bytes = ReadFile(file);
  if (!IsUtf8(bytes)) throw std::runtime_error(file.string() + ": not UTF-8 text");
  std::string text;
  text.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] != '\r') {
      text += bytes[i];
    } else {
      text += '\n';
      if (i + 1 < bytes.size() && bytes[i + 1] == '\n') ++i;
    }
  }
  return Trim(text);
}

void Walk(const fs::path& directory, const std::string& relative, std::vector<FolderEntry>& entries) {
  std::error_code error;
  fs::directory_iterator it(directory, error);
  if (error) throw std::runtime_error("cannot read folder " + directory.string() + ": " + error.message());
  const std::string category = relative.empty() ? std::string() : relative.substr(relative.rfind('/') + 1);
  for (; it != fs::directory_iterator(); it.increment(error)) {
    if (error) throw std::runtime_error("cannot read folder " + directory.string() + ": " + error.message());
    const fs::directory_entry& entry = *it;
    const std::string name = entry.path().filename().string();
    if (name.rfind('.', 0) == 0) continue;
    const std::string inner = relative.empty() ? name : relative + "/" + name;
    std::error_code status_error;
    if (fs::is_directory(entry.symlink_status(status_error))) {  // a link to a folder is not one here
      Walk(entry.path(), inner, entries);
      continue;
    }
    const std::string extension = entry.path().extension().string();
    if (!IsImageExtension(extension) || !fs::is_regular_file(entry.status(status_error))) continue;
    const std::string stem = name.substr(0, name.size() - extension.size());
    entries.push_back({inner.substr(0, inner.size() - extension.size()), entry.path(), category,
                       ReadTitle(directory / (stem + ".txt"))});
  }
  if (error) throw std::runtime_error("cannot read folder " + directory.string() + ": " + error.message());
}

Catalog FromProto(const pb::Catalog& proto) {
  Catalog catalog;
  catalog.name = proto.name();
  catalog.display_name = proto.display_name();
  catalog.description = proto.description();
  catalog.create_time = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::duration<double>(proto.create_time())));
  catalog.product_count = proto.product_count();
  return catalog;
}

pb::SearchOptions ToProto(const SearchOptions& options) {
  pb::SearchOptions proto;
  proto.set_top_k(options.top_k);
  proto.set_min_score(options.min_score);
  for (const auto& category : options.categories) proto.mutable_filter()->add_categories(category);
  return proto;
}

pb::Product ToProto(const Product& product) {
  pb::Product proto;
  proto.set_id(product.id);
  proto.set_title(product.title);
  proto.set_category(product.category);
  if (product.price) proto.set_price(*product.price);
  for (const auto& [key, value] : product.attributes) (*proto.mutable_attributes())[key] = value;
  proto.set_image(product.image);
  return proto;
}

SearchResult FromProto(const pb::SearchResponse& response) {
  SearchResult result;
  result.embedding_ms = response.embedding_ms();
  result.index_ms = response.index_ms();
  result.hits.reserve(response.hits_size());
  for (const auto& proto : response.hits()) {
    Hit hit;
    hit.product_id = proto.product().id();
    hit.score = proto.score();
    hit.title = proto.product().title();
    hit.category = proto.product().category();
    if (proto.product().has_price()) hit.price = proto.product().price();
    for (const auto& signal : proto.signals()) hit.signals[signal.signal()] = signal.score();
    result.hits.push_back(std::move(hit));
  }
  return result;
}

void Check(const grpc::Status& status) {
  if (!status.ok()) throw RpcError(status);
}

}  // namespace

std::string CatalogName(const std::string& catalog) {
  if (catalog.empty() || catalog.rfind(kCatalogPrefix, 0) == 0) return catalog;
  return std::string(kCatalogPrefix) + catalog;
}

std::string Catalog::id() const {
  return name.rfind(kCatalogPrefix, 0) == 0 ? name.substr(kCatalogPrefix.size()) : name;
}

std::string StatusCodeName(int code) {
  static const std::array<const char*, 17> kNames = {
      "OK",
      "CANCELLED",
      "UNKNOWN",
      "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED",
      "NOT_FOUND",
      "ALREADY_EXISTS",
      "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION",
      "ABORTED",
      "OUT_OF_RANGE",
      "UNIMPLEMENTED",
      "INTERNAL",
      "UNAVAILABLE",
      "DATA_LOSS",
      "UNAUTHENTICATED",
  };
  if (code < 0 || code >= static_cast<int>(kNames.size())) return std::to_string(code);
  return kNames[code];
}

RpcError::RpcError(grpc::Status status)
    : std::runtime_error(StatusCodeName(status.error_code()) + ": " + status.error_message()),
      status_(std::move(status)) {}

std::vector<FolderEntry> FolderEntries(const fs::path& folder) {
  std::error_code error;
  if (!fs::is_directory(folder, error)) throw std::runtime_error("cannot read folder " + folder.string() + ": not a folder");
  std::vector<FolderEntry> entries;
  Walk(folder, "", entries);
  // Byte order of the UTF-8 ids (std::string compares as unsigned char), then of the names.
  std::sort(entries.begin(), entries.end(), [](const FolderEntry& a, const FolderEntry& b) {
    if (a.id != b.id) return a.id < b.id;
    return a.path.filename().string() < b.path.filename().string();
  });
  return entries;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error("cannot read " + path.string() + ": " + std::strerror(errno));
  std::ostringstream bytes;
  bytes << file.rdbuf();
  if (file.bad()) throw std::runtime_error("cannot read " + path.string());
  return std::move(bytes).str();
}

ProductSearchClient::ProductSearchClient(const std::string& target, std::string api_key,
                                         std::chrono::microseconds deadline)
    : ProductSearchClient(
          [&target] {
            grpc::ChannelArguments arguments;
            arguments.SetMaxReceiveMessageSize(kMaxReceiveBytes);
            return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), arguments);
          }(),
          std::move(api_key), deadline) {}

ProductSearchClient::ProductSearchClient(std::shared_ptr<grpc::Channel> channel, std::string api_key,
                                         std::chrono::microseconds deadline)
    : stub_(pb::ProductSearch::NewStub(std::move(channel))), api_key_(std::move(api_key)), deadline_(deadline) {}

void ProductSearchClient::Prepare(grpc::ClientContext& context) const {
  context.set_deadline(std::chrono::system_clock::now() + deadline_);
  if (!api_key_.empty()) context.AddMetadata("authorization", "Bearer " + api_key_);
}

std::string ProductSearchClient::CatalogOf(const std::optional<std::string>& catalog) const {
  return catalog ? CatalogName(*catalog) : catalog_;
}

UpsertSummary ProductSearchClient::UpsertStream(const std::function<std::optional<Product>()>& next,
                                                const std::string& catalog) {
  grpc::ClientContext context;
  Prepare(context);
  pb::UpsertProductsResponse response;
  auto stream = stub_->UpsertProducts(&context, &response);
  pb::UpsertProductsRequest request;
  // Every message names the catalog: the server takes the first one's and rejects a stream
  // that switches.
  request.set_catalog(catalog);
  for (;;) {
    std::optional<Product> product;
    try {
      product = next();
    } catch (...) {
      context.TryCancel();
      stream->Finish();
      throw;
    }
    if (!product) break;
    *request.mutable_product() = ToProto(*product);
    // A failed write means the call is over; Finish() says why.
    if (!stream->Write(request)) break;
  }
  stream->WritesDone();
  Check(stream->Finish());
  UpsertSummary summary;
  summary.upserted = response.upserted();
  summary.failed = response.failed();
  summary.truncated = response.truncated();
  for (const auto& status : response.statuses()) {
    if (status.code() != 0) summary.failures.push_back({status.id(), status.code(), status.message()});
  }
  return summary;
}

UpsertSummary ProductSearchClient::Upsert(const std::vector<Product>& products,
                                          const std::optional<std::string>& catalog) {
  auto it = products.begin();
  return UpsertStream(
      [&]() -> std::optional<Product> {
        if (it == products.end()) return std::nullopt;
        return *it++;
      },
      CatalogOf(catalog));
}

UpsertSummary ProductSearchClient::UpsertFolder(const fs::path& folder, const std::optional<std::string>& catalog) {
  const std::vector<FolderEntry> entries = FolderEntries(folder);
  auto it = entries.begin();
  return UpsertStream(
      [&]() -> std::optional<Product> {
        if (it == entries.end()) return std::nullopt;
        const FolderEntry& entry = *it++;
        Product product;
        product.id = entry.id;
        product.title = entry.title;
        product.category = entry.category;
        product.image = ReadFile(entry.path);
        return product;
      },
      CatalogOf(catalog));
}

SearchResult ProductSearchClient::SearchByImage(const std::string& image, const SearchOptions& options) {
  grpc::ClientContext context;
  Prepare(context);
  pb::SearchByImageRequest request;
  request.set_image(image);
  *request.mutable_options() = ToProto(options);
  request.set_catalog(CatalogOf(options.catalog));
  pb::SearchResponse response;
  Check(stub_->SearchByImage(&context, request, &response));
  return FromProto(response);
}

SearchResult ProductSearchClient::SearchByText(const std::string& text, const SearchOptions& options) {
  grpc::ClientContext context;
  Prepare(context);
  pb::SearchByTextRequest request;
  request.set_text(text);
  *request.mutable_options() = ToProto(options);
  request.set_catalog(CatalogOf(options.catalog));
  pb::SearchResponse response;
  Check(stub_->SearchByText(&context, request, &response));
  return FromProto(response);
}

SearchResult ProductSearchClient::SearchSimilar(const std::string& product_id, const SearchOptions& options) {
  grpc::ClientContext context;
  Prepare(context);
  pb::SearchSimilarRequest request;
  request.set_product_id(product_id);
  *request.mutable_options() = ToProto(options);
  request.set_catalog(CatalogOf(options.catalog));
  pb::SearchResponse response;
  Check(stub_->SearchSimilar(&context, request, &response));
  return FromProto(response);
}

Catalog ProductSearchClient::CreateCatalog(const std::string& catalog_id, const std::string& display_name,
                                           const std::string& description) {
  grpc::ClientContext context;
  Prepare(context);
  pb::CreateCatalogRequest request;
  request.set_catalog_id(catalog_id.rfind(kCatalogPrefix, 0) == 0 ? catalog_id.substr(kCatalogPrefix.size())
                                                                  : catalog_id);
  request.mutable_catalog()->set_display_name(display_name);
  request.mutable_catalog()->set_description(description);
  pb::CreateCatalogResponse response;
  Check(stub_->CreateCatalog(&context, request, &response));
  return FromProto(response.catalog());
}

Catalog ProductSearchClient::GetCatalog(const std::string& catalog) {
  grpc::ClientContext context;
  Prepare(context);
  pb::GetCatalogRequest request;
  request.set_name(catalog.empty() ? std::string(kCatalogPrefix) + "default" : CatalogName(catalog));
  pb::GetCatalogResponse response;
  Check(stub_->GetCatalog(&context, request, &response));
  return FromProto(response.catalog());
}

std::vector<Catalog> ProductSearchClient::ListCatalogs() {
  std::vector<Catalog> catalogs;
  pb::ListCatalogsRequest request;
  do {
    grpc::ClientContext context;
    Prepare(context);
    pb::ListCatalogsResponse response;
    Check(stub_->ListCatalogs(&context, request, &response));
    for (const auto& catalog : response.catalogs()) catalogs.push_back(FromProto(catalog));
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  return catalogs;
}

void ProductSearchClient::DeleteCatalog(const std::string& catalog, bool force) {
  grpc::ClientContext context;
  Prepare(context);
  pb::DeleteCatalogRequest request;
  request.set_name(CatalogName(catalog));
  request.set_force(force);
  pb::DeleteCatalogResponse response;
  Check(stub_->DeleteCatalog(&context, request, &response));
}

}  // namespace productsearch
