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

bool IsImageFile(const fs::directory_entry& entry) {
  static const std::array<std::string, 4> kExtensions = {".jpg", ".jpeg", ".png", ".webp"};
  std::error_code error;
  if (!entry.is_regular_file(error)) return false;
  const std::string extension = Lower(entry.path().extension().string());
  return std::find(kExtensions.begin(), kExtensions.end(), extension) != kExtensions.end();
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

std::vector<fs::path> ImageFiles(const fs::path& folder) {
  std::error_code error;
  fs::directory_iterator it(folder, error);
  if (error) throw std::runtime_error("cannot read folder " + folder.string() + ": " + error.message());
  std::vector<fs::path> files;
  for (const auto& entry : it) {
    if (IsImageFile(entry)) files.push_back(entry.path());
  }
  // Byte order of the UTF-8 names, which is code point order.
  std::sort(files.begin(), files.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename().string() < b.filename().string(); });
  return files;
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

UpsertSummary ProductSearchClient::UpsertStream(const std::function<std::optional<Product>()>& next) {
  grpc::ClientContext context;
  Prepare(context);
  pb::UpsertProductsResponse response;
  auto stream = stub_->UpsertProducts(&context, &response);
  pb::UpsertProductsRequest request;
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
  for (const auto& status : response.statuses()) {
    if (status.code() != 0) summary.failures.push_back({status.id(), status.code(), status.message()});
  }
  return summary;
}

UpsertSummary ProductSearchClient::Upsert(const std::vector<Product>& products) {
  auto it = products.begin();
  return UpsertStream([&]() -> std::optional<Product> {
    if (it == products.end()) return std::nullopt;
    return *it++;
  });
}

UpsertSummary ProductSearchClient::UpsertFolder(const fs::path& folder) {
  const std::vector<fs::path> files = ImageFiles(folder);
  auto it = files.begin();
  return UpsertStream([&]() -> std::optional<Product> {
    if (it == files.end()) return std::nullopt;
    const fs::path& file = *it++;
    Product product;
    product.id = file.stem().string();
    product.image = ReadFile(file);
    const fs::path title = folder / (product.id + ".txt");
    std::error_code error;
    if (fs::is_regular_file(title, error)) product.title = Trim(ReadFile(title));
    return product;
  });
}

SearchResult ProductSearchClient::SearchByImage(const std::string& image, const SearchOptions& options) {
  grpc::ClientContext context;
  Prepare(context);
  pb::SearchByImageRequest request;
  request.set_image(image);
  *request.mutable_options() = ToProto(options);
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
  pb::SearchResponse response;
  Check(stub_->SearchSimilar(&context, request, &response));
  return FromProto(response);
}

}  // namespace productsearch
