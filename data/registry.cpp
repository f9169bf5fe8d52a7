#include "data/registry.h"

#include <charconv>
#include <vector>

#include "core/error.h"
#include "data/synthetic.h"

namespace ssl::data {
namespace {

std::vector<std::string> split_on_colons(const std::string& s) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    const size_t colon = s.find(':', start);
    parts.push_back(s.substr(start, colon - start));
    if (colon == std::string::npos) return parts;
    start = colon + 1;
  }
}

[[noreturn]] void fail(const std::string& spec, const std::string& why) {
  throw Error(str_cat("dataset '", spec, "': ", why, ". Accepted:\n", dataset_spec_help()));
}

std::unique_ptr<Dataset> open_synthetic(const std::string& spec, const std::vector<std::string>& parts) {
  if (parts.size() > 3) fail(spec, "too many ':' parts");
  Split split = Split::train;
  if (parts.size() >= 2) {
    if (parts[1] == "train") {
      split = Split::train;
    } else if (parts[1] == "test") {
      split = Split::test;
    } else {
      fail(spec, str_cat("synthetic has no split '", parts[1], "'"));
    }
  }
  int64_t count = -1;
  if (parts.size() == 3) {
    const std::string& text = parts[2];
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), count);
    if (ec != std::errc() || end != text.data() + text.size() || count <= 0) {
      fail(spec, str_cat("the image count '", text, "' is not a positive integer"));
    }
  }
  return std::make_unique<SyntheticDataset>(split, count);
}

}  // namespace

std::string dataset_spec_help() {
  return "  synthetic              built-in shapes, train split (10000 images)\n"
         "  synthetic:train        the same\n"
         "  synthetic:test         built-in shapes, test split (2000 images)\n"
         "  synthetic:SPLIT:COUNT  a split with COUNT images, e.g. synthetic:train:500\n";
}

std::unique_ptr<Dataset> open_dataset(const std::string& spec) {
  const std::vector<std::string> parts = split_on_colons(spec);
  if (parts[0] == "synthetic") return open_synthetic(spec, parts);
  fail(spec, str_cat("unknown dataset kind '", parts[0], "'"));
}

}  // namespace ssl::data
