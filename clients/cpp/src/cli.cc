// productsearch: the command line shared by every client of this repository.
//
//   productsearch [--target HOST:PORT] [--deadline SECONDS] [--api-key KEY] [--catalog ID] COMMAND ...
//
// Exit status: 0 done, 1 usage or local error, 2 the RPC failed.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "productsearch/client.h"

namespace {

constexpr int kExitUsage = 1;
constexpr int kExitRpc = 2;

constexpr const char* kUsage =
    "usage: productsearch [--target HOST:PORT] [--deadline SECONDS] [--api-key KEY] [--catalog ID] COMMAND ...\n"
    "  upsert FOLDER                  upsert every .jpg/.jpeg/.png/.webp under FOLDER (id: relative path\n"
    "                                 without extension, category: its folder, title: <stem>.txt)\n"
    "  search-image PATH [--top-k N]  products that look like the image\n"
    "  search-text TEXT [--top-k N]   products matching a keyword (e.g. 运动鞋, red sneakers)\n"
    "  similar PRODUCT_ID [--top-k N] products that look like a catalog product\n"
    "defaults: --target $PRODUCTSEARCH_TARGET or 127.0.0.1:50051, --deadline 10,\n"
    "          --api-key $PRODUCTSEARCH_API_KEY, --top-k 10,\n"
    "          --catalog $PRODUCTSEARCH_CATALOG or the default catalog (an id, shop-a, or a name)\n";

struct UsageError {
  std::string message;
};

struct Arguments {
  std::string target = "127.0.0.1:50051";
  double deadline_s = 10.0;
  std::string api_key;
  std::string catalog;
  std::string command;
  std::vector<std::string> positional;
  int top_k = 10;
  bool help = false;
};

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

double ParseSeconds(const std::string& text) {
  errno = 0;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno != 0 || !std::isfinite(value) || value <= 0) {
    throw UsageError{"--deadline: expected a positive number of seconds, got '" + text + "'"};
  }
  return value;
}

int ParseInt(const std::string& option, const std::string& text) {
  errno = 0;
  char* end = nullptr;
  const long value = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || value < INT32_MIN || value > INT32_MAX) {
    throw UsageError{option + ": expected an integer, got '" + text + "'"};
  }
  return static_cast<int>(value);
}

// Splits "--name=value" into name and value; "--name" alone takes the next argument.
std::string OptionValue(const std::vector<std::string>& args, size_t& i, const std::string& name) {
  const std::string& arg = args[i];
  if (arg.size() > name.size() && arg[name.size()] == '=') return arg.substr(name.size() + 1);
  if (i + 1 >= args.size()) throw UsageError{name + ": expected a value"};
  return args[++i];
}

bool IsOption(const std::string& arg, const std::string& name) {
  return arg == name || arg.rfind(name + "=", 0) == 0;
}

Arguments Parse(const std::vector<std::string>& args) {
  Arguments parsed;
  if (const std::string target = Env("PRODUCTSEARCH_TARGET"); !target.empty()) parsed.target = target;
  parsed.api_key = Env("PRODUCTSEARCH_API_KEY");
  parsed.catalog = Env("PRODUCTSEARCH_CATALOG");

  size_t i = 0;
  for (; i < args.size() && args[i].rfind("-", 0) == 0; ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      parsed.help = true;
      return parsed;
    } else if (IsOption(arg, "--target")) {
      parsed.target = OptionValue(args, i, "--target");
    } else if (IsOption(arg, "--deadline")) {
      parsed.deadline_s = ParseSeconds(OptionValue(args, i, "--deadline"));
    } else if (IsOption(arg, "--api-key")) {
      parsed.api_key = OptionValue(args, i, "--api-key");
    } else if (IsOption(arg, "--catalog")) {
      parsed.catalog = OptionValue(args, i, "--catalog");
    } else {
      throw UsageError{"unknown option " + arg};
    }
  }
  if (i == args.size()) throw UsageError{"missing COMMAND"};
  parsed.command = args[i++];
  if (parsed.command != "upsert" && parsed.command != "search-image" && parsed.command != "search-text" &&
      parsed.command != "similar") {
    throw UsageError{"unknown command " + parsed.command};
  }

  bool options_done = false;
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_done || arg.rfind("--", 0) != 0) {
      parsed.positional.push_back(arg);
    } else if (arg == "--") {
      options_done = true;
    } else if (arg == "--help") {
      parsed.help = true;
      return parsed;
    } else if (parsed.command != "upsert" && IsOption(arg, "--top-k")) {
      parsed.top_k = ParseInt("--top-k", OptionValue(args, i, "--top-k"));
      if (parsed.top_k < 1) throw UsageError{"--top-k: expected at least 1, got " + std::to_string(parsed.top_k)};
    } else {
      throw UsageError{"unknown option " + arg + " for " + parsed.command};
    }
  }
  if (parsed.positional.size() != 1) {
    throw UsageError{parsed.command + ": expected exactly one argument, got " +
                     std::to_string(parsed.positional.size())};
  }
  return parsed;
}

void PrintHits(const productsearch::SearchResult& result) {
  int rank = 1;
  for (const auto& hit : result.hits) {
    std::printf("%d\t%s\t%.4f\t%s\n", rank++, hit.product_id.c_str(), static_cast<double>(hit.score),
                hit.title.c_str());
  }
}

int Run(const Arguments& args) {
  const auto deadline = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::duration<double>(args.deadline_s));
  productsearch::ProductSearchClient client(args.target, args.api_key,
                                            std::max(deadline, std::chrono::microseconds(1)));
  client.set_catalog(args.catalog);
  productsearch::SearchOptions options;
  options.top_k = args.top_k;
  const std::string& argument = args.positional.front();

  if (args.command == "upsert") {
    const auto summary = client.UpsertFolder(argument);
    std::printf("upserted %d failed %d\n", summary.upserted, summary.failed);
    for (const auto& failure : summary.failures) {
      std::printf("failed\t%s\t%s\t%s\n", failure.id.c_str(), productsearch::StatusCodeName(failure.code).c_str(),
                  failure.message.c_str());
    }
  } else if (args.command == "search-image") {
    PrintHits(client.SearchByImage(productsearch::ReadFile(argument), options));
  } else if (args.command == "search-text") {
    PrintHits(client.SearchByText(argument, options));
  } else {
    PrintHits(client.SearchSimilar(argument, options));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Arguments args;
  try {
    args = Parse(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const UsageError& error) {
    std::cerr << "error: " << error.message << "\n" << kUsage;
    return kExitUsage;
  }
  if (args.help) {
    std::cout << kUsage;
    return 0;
  }
  try {
    return Run(args);
  } catch (const productsearch::RpcError& error) {
    std::fflush(stdout);
    std::cerr << "error: " << productsearch::StatusCodeName(error.code()) << ": " << error.details() << "\n";
    return kExitRpc;
  } catch (const std::exception& error) {
    std::fflush(stdout);
    std::cerr << "error: " << error.what() << "\n";
    return kExitUsage;
  }
}
