#include "data/registry.h"

#include <cctype>
#include <charconv>
#include <vector>

#include "core/error.h"
#include "data/cifar10.h"
#include "data/image_folder.h"
#include "data/stl10.h"
#include "data/subset.h"
#include "data/synthetic.h"

namespace ssl::data {
namespace {

constexpr int64_t kMaxSyntheticImages = 100'000'000;

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

// Parses a whole non-negative decimal integer; false otherwise.
template <class T>
bool parse_uint(const std::string& text, T& out) {
  if (text.empty() || text[0] == '-' || text[0] == '+') return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

std::unique_ptr<Dataset> open_cifar10(const std::string& spec, const std::vector<std::string>& parts) {
  if (parts.size() < 2 || parts[1].empty()) fail(spec, "cifar10 needs a directory: cifar10:DIR");
  if (parts.size() > 3) fail(spec, "too many ':' parts (a directory may not contain ':')");
  Split split = Split::train;
  if (parts.size() == 3) {
    if (parts[2] == "train") {
      split = Split::train;
    } else if (parts[2] == "test") {
      split = Split::test;
    } else {
      fail(spec, str_cat("cifar10 has no split '", parts[2], "': expected train or test"));
    }
  }
  return std::make_unique<Cifar10Dataset>(parts[1], split);
}

std::unique_ptr<Dataset> open_stl10(const std::string& spec, const std::vector<std::string>& parts) {
  if (parts.size() < 2 || parts[1].empty()) fail(spec, "stl10 needs a directory: stl10:DIR");
  if (parts.size() > 3) fail(spec, "too many ':' parts (a directory may not contain ':')");
  Split split = Split::train;
  if (parts.size() == 3) {
    if (parts[2] != "train" && parts[2] != "test" && parts[2] != "unlabeled") {
      fail(spec, str_cat("stl10 has no split '", parts[2], "': expected train, test or unlabeled"));
    }
    split = parse_split(parts[2]);
  }
  return std::make_unique<Stl10Dataset>(parts[1], split);
}

std::unique_ptr<Dataset> open_folder(const std::string& spec, const std::vector<std::string>& parts,
                                     const OpenOptions& open_options) {
  if (parts.size() < 2 || parts[1].empty()) fail(spec, "folder needs a directory: folder:DIR");
  ImageFolderOptions options;
  options.size = open_options.image_size;
  options.skip_bad_images = open_options.skip_bad_images;
  bool have_size = false, have_skip = false;
  for (size_t k = 2; k < parts.size(); ++k) {
    if (parts[k] == "skip-bad" && !have_skip) {
      options.skip_bad_images = have_skip = true;
    } else if (!have_size && parse_uint(parts[k], options.size) && options.size > 0) {
      have_size = true;
    } else {
      fail(spec, str_cat("folder option '", parts[k],
                         "' is not an image size (a positive integer, given once) or 'skip-bad' (once)"));
    }
  }
  return std::make_unique<ImageFolderDataset>(parts[1], options);
}

// Applies a label budget "N[,seed=S][,rest]" (the text after '@') to `base`.
std::unique_ptr<Dataset> apply_budget(const std::string& spec, const std::string& budget,
                                      std::unique_ptr<Dataset> base) {
  std::vector<std::string> items;
  for (size_t start = 0;;) {
    const size_t comma = budget.find(',', start);
    items.push_back(budget.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  int64_t per_class = 0;
  if (!parse_uint(items[0], per_class) || per_class <= 0) {
    fail(spec,
         str_cat("the label budget '", items[0], "' after '@' is not a positive number of images per class"));
  }
  uint64_t seed = 0;
  bool have_seed = false;
  LabelSubset::Part part = LabelSubset::Part::labelled;
  for (size_t k = 1; k < items.size(); ++k) {
    if (items[k] == "rest" && part == LabelSubset::Part::labelled) {
      part = LabelSubset::Part::rest;
    } else if (!have_seed && items[k].rfind("seed=", 0) == 0 && parse_uint(items[k].substr(5), seed)) {
      have_seed = true;
    } else {
      fail(spec,
           str_cat("label budget option '", items[k], "' is not 'seed=S' or 'rest' (each at most once)"));
    }
  }
  return std::make_unique<LabelSubset>(std::shared_ptr<const Dataset>(std::move(base)), per_class, seed,
                                       part);
}

std::unique_ptr<Dataset> open_synthetic(const std::string& spec, const std::vector<std::string>& parts) {
  if (parts.size() > 3) fail(spec, "too many ':' parts");
  Split split = Split::train;
  auto domain = SyntheticDataset::Domain::source;
  if (parts.size() >= 2) {
    if (parts[1] == "train") {
      split = Split::train;
    } else if (parts[1] == "test") {
      split = Split::test;
    } else if (parts[1] == "transfer") {
      split = Split::test;
      domain = SyntheticDataset::Domain::transfer;
    } else {
      fail(spec, str_cat("synthetic has no split '", parts[1], "' (it has train, test and transfer)"));
    }
  }
  int64_t count = -1;
  if (parts.size() == 3) {
    const std::string& text = parts[2];
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), count);
    if (ec != std::errc() || end != text.data() + text.size() || count <= 0) {
      fail(spec, str_cat("the image count '", text, "' is not a positive integer"));
    }
    // Images are drawn on demand, but a loader keeps an index per image: a count beyond this is a typo.
    if (count > kMaxSyntheticImages)
      fail(spec,
           str_cat("the image count ", count, " is more than synthetic's limit of ", kMaxSyntheticImages));
  }
  return std::make_unique<SyntheticDataset>(split, count, 0, domain);
}

}  // namespace

std::string dataset_spec_help() {
  return "  synthetic              built-in shapes, train split (10000 images)\n"
         "  synthetic:train        the same\n"
         "  synthetic:test         built-in shapes, test split (2000 images)\n"
         "  synthetic:transfer     the same shapes shifted (64 px, stronger lighting, a diamond for\n"
         "                         the checkerboard; 2000 images): study a's transfer set\n"
         "  synthetic:SPLIT:COUNT  a split with COUNT images, e.g. synthetic:train:500\n"
         "  cifar10:DIR[:SPLIT]    CIFAR-10 binary version in DIR or DIR/cifar-10-batches-bin\n"
         "                         (data_batch_*.bin, test_batch.bin, batches.meta.txt); SPLIT train\n"
         "                         (default) or test\n"
         "  stl10:DIR[:SPLIT]      STL-10 binary version in DIR or DIR/stl10_binary (train_X.bin, ...,\n"
         "                         class_names.txt); SPLIT train (default), test or unlabeled\n"
         "  folder:DIR[:SIZE][:skip-bad]\n"
         "                         image files (jpg/png/bmp) in DIR/<class>/, or directly in DIR\n"
         "                         (unlabelled), resized to SIZE x SIZE (default: --image-size, else 32);\n"
         "                         skip-bad (or --skip-bad-images) leaves out files that cannot be\n"
         "                         decoded, with a counted warning (each is decoded once to find them)\n"
         "  SPEC@N[,seed=S][,rest] label budget: N labelled images per class of SPEC drawn with seed S\n"
         "                         (default 0), e.g. cifar10:data/cifar:train@25; with ',rest' the other\n"
         "                         images instead, labels hidden (the unlabelled pool)\n";
}

std::unique_ptr<Dataset> open_dataset(const std::string& spec, const OpenOptions& options) {
  // A label budget is the text after the last '@' that is not inside the directory path and begins with its
  // count: a folder named "my@set" is a folder.
  const size_t slash = spec.rfind('/');
  const auto budget_at = [&](const std::string& s) {
    const size_t at = s.rfind('@');
    const bool is_budget = at != std::string::npos && (slash == std::string::npos || at > slash) &&
                           at + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[at + 1]));
    return is_budget ? at : std::string::npos;
  };
  const size_t at = budget_at(spec);
  const bool budgeted = at != std::string::npos;
  const std::string base_spec = budgeted ? spec.substr(0, at) : spec;
  const size_t other_at = budgeted ? budget_at(base_spec) : std::string::npos;
  if (other_at != std::string::npos)
    fail(spec, str_cat("two label budgets ('", spec.substr(other_at), "'); expected one '@N' at the end"));
  const std::vector<std::string> parts = split_on_colons(base_spec);
  std::unique_ptr<Dataset> base;
  if (parts[0] == "synthetic") {
    base = open_synthetic(spec, parts);
  } else if (parts[0] == "cifar10") {
    base = open_cifar10(spec, parts);
  } else if (parts[0] == "stl10") {
    base = open_stl10(spec, parts);
  } else if (parts[0] == "folder") {
    base = open_folder(spec, parts, options);
  } else {
    fail(spec, str_cat("unknown dataset kind '", parts[0], "'"));
  }
  if (options.labels_per_class > 0) {
    if (budgeted) fail(spec, "a label budget is given both as '@' in the spec and as --labels-per-class");
    return apply_budget(spec, str_cat(options.labels_per_class, ",seed=", options.label_seed),
                        std::move(base));
  }
  if (!budgeted) return base;
  return apply_budget(spec, spec.substr(at + 1), std::move(base));
}

}  // namespace ssl::data
