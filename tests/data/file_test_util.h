// Helpers for the file-format tests: byte and text writers, a tiny in-memory dataset, a check that an
// ssl::Error message contains given words and one that open_dataset refuses bad specs; with the temporary
// directory of support/temp_dir.h.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/dataset.h"
#include "data/registry.h"
#include "support/temp_dir.h"

namespace ssl::test {

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  REQUIRE(f.good());
}

inline void write_text(const std::string& path, const std::string& text) {
  write_bytes(path, std::vector<uint8_t>(text.begin(), text.end()));
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// The message of the ssl::Error that `f` throws, or "<no error>" when it throws none.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const ssl::Error& e) {
    return e.what();
  }
  return "<no error>";
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// open_dataset refuses every spec of `specs` with a message that quotes it and lists the accepted forms,
// among them `form` (e.g. "cifar10:DIR").
inline void check_specs_refused(const std::vector<std::string>& specs, const std::string& form) {
  for (const std::string& spec : specs) {
    CAPTURE(spec);
    const std::string msg = error_of([&] { ssl::data::open_dataset(spec); });
    CHECK(contains(msg, "'" + spec + "'"));
    CHECK(contains(msg, form));
  }
}

// A dataset of 1x1 images whose only pixel is the index, with the given labels and class names.
class FakeDataset final : public ssl::data::Dataset {
 public:
  FakeDataset(std::vector<int64_t> labels, std::vector<std::string> names)
      : labels_(std::move(labels)), names_(std::move(names)) {}
  int64_t size() const override { return int64_t(labels_.size()); }
  int64_t num_classes() const override { return int64_t(names_.size()); }
  std::vector<std::string> class_names() const override { return names_; }
  ssl::data::Image image(int64_t i) const override {
    check_index(i, "image");
    return ssl::data::Image(1, 1, 1, uint8_t(i));
  }
  int64_t label(int64_t i) const override {
    check_index(i, "label");
    return labels_[size_t(i)];
  }
  std::string name() const override { return "fake"; }

 private:
  std::vector<int64_t> labels_;
  std::vector<std::string> names_;
};

}  // namespace ssl::test
