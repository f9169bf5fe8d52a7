#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "data/cifar10.h"
#include "data/registry.h"
#include "file_test_util.h"

using namespace ssl;
using namespace ssl::data;
using ssl::test::check_specs_refused;
using ssl::test::contains;
using ssl::test::error_of;
using ssl::test::TempDir;

namespace {

const char* const kCifarNames[] = {"airplane", "automobile", "bird",  "cat",  "deer",
                                   "dog",      "frog",       "horse", "ship", "truck"};

// The pixel of record `id` at (row y, column x, channel ch): distinct for transposed or swapped planes.
uint8_t cifar_pixel(int64_t id, int64_t y, int64_t x, int64_t ch) {
  return uint8_t(id * 37 + ch * 85 + y * 32 + x);
}

// One CIFAR-10 record: the label byte, then the R, G and B planes row by row.
std::vector<uint8_t> record(int64_t id, uint8_t label) {
  std::vector<uint8_t> r{label};
  for (int64_t ch = 0; ch < 3; ++ch) {
    for (int64_t y = 0; y < 32; ++y) {
      for (int64_t x = 0; x < 32; ++x) r.push_back(cifar_pixel(id, y, x, ch));
    }
  }
  return r;
}

// data_batch_b holds b records (ids 10*b + k, label (b + k) % 10); test_batch holds 3 (ids 100 + k, label
// 9 - k). batches.meta.txt ends with blank lines, as the official file does.
void write_cifar(const TempDir& dir) {
  for (int b = 1; b <= 5; ++b) {
    std::vector<uint8_t> bytes;
    for (int k = 0; k < b; ++k) {
      const std::vector<uint8_t> r = record(10 * b + k, uint8_t((b + k) % 10));
      bytes.insert(bytes.end(), r.begin(), r.end());
    }
    ssl::test::write_bytes(dir / ("data_batch_" + std::to_string(b) + ".bin"), bytes);
  }
  std::vector<uint8_t> test;
  for (int k = 0; k < 3; ++k) {
    const std::vector<uint8_t> r = record(100 + k, uint8_t(9 - k));
    test.insert(test.end(), r.begin(), r.end());
  }
  ssl::test::write_bytes(dir / "test_batch.bin", test);
  std::string meta;
  for (const char* n : kCifarNames) meta += std::string(n) + "\n";
  ssl::test::write_text(dir / "batches.meta.txt", meta + "\n\n");
}

void check_image(const Image& img, int64_t id) {
  REQUIRE(img.h == 32);
  REQUIRE(img.w == 32);
  REQUIRE(img.c == 3);
  int64_t wrong = 0;
  for (int64_t y = 0; y < 32; ++y) {
    for (int64_t x = 0; x < 32; ++x) {
      for (int64_t ch = 0; ch < 3; ++ch) wrong += img(y, x, ch) != cifar_pixel(id, y, x, ch);
    }
  }
  CHECK(wrong == 0);
}

}  // namespace

TEST_CASE("cifar10: train and test splits decode exactly") {
  TempDir dir;
  write_cifar(dir);
  const Cifar10Dataset train(dir.path(), Split::train);
  CHECK(train.size() == 1 + 2 + 3 + 4 + 5);
  CHECK(train.num_classes() == 10);
  CHECK(train.class_names() == std::vector<std::string>(std::begin(kCifarNames), std::end(kCifarNames)));
  CHECK(contains(train.name(), "cifar10:"));
  CHECK(contains(train.name(), ":train (15 images)"));
  int64_t i = 0;
  for (int b = 1; b <= 5; ++b) {
    for (int k = 0; k < b; ++k, ++i) {
      CAPTURE(i);
      CHECK(train.label(i) == (b + k) % 10);
      check_image(train.image(i), 10 * b + k);
    }
  }
  // One pixel spelled out: record 10 (batch 1), row 1, column 2, green = 10*37 + 85 + 32 + 2.
  CHECK(int(train.image(0)(1, 2, 1)) == (10 * 37 + 85 + 32 + 2) % 256);

  const Cifar10Dataset test(dir.path(), Split::test);
  REQUIRE(test.size() == 3);
  for (int k = 0; k < 3; ++k) {
    CHECK(test.label(k) == 9 - k);
    check_image(test.image(k), 100 + k);
  }
  CHECK(contains(error_of([&] { test.image(3); }), "out of range"));
  CHECK(contains(error_of([&] { test.label(-1); }), "out of range"));
}

TEST_CASE("cifar10: open_dataset specs") {
  TempDir dir;
  write_cifar(dir);
  CHECK(open_dataset("cifar10:" + dir.path())->size() == 15);
  CHECK(open_dataset("cifar10:" + dir.path() + ":train")->size() == 15);
  auto test = open_dataset("cifar10:" + dir.path() + ":test");
  CHECK(test->size() == 3);
  CHECK(test->label(0) == 9);
  check_specs_refused({"cifar10", "cifar10:", "cifar10:" + dir.path() + ":val",
                       "cifar10:" + dir.path() + ":unlabeled", "cifar10:" + dir.path() + ":test:x"},
                      "cifar10:DIR");
}

TEST_CASE("cifar10: the directory the archive extracts to, or the one above it") {
  TempDir above, files;
  write_cifar(files);
  std::filesystem::rename(files.path(), above / "cifar-10-batches-bin");
  CHECK(open_dataset("cifar10:" + above.path() + ":test")->size() == 3);
  CHECK(open_dataset("cifar10:" + (above / "cifar-10-batches-bin") + ":test")->size() == 3);
  std::filesystem::rename(above / "cifar-10-batches-bin", above / "elsewhere");
  const std::string msg = error_of([&] { Cifar10Dataset(above.path(), Split::test); });
  CHECK(contains(msg, "found neither '" + (above / "batches.meta.txt") + "' nor '" +
                          (above / "cifar-10-batches-bin/batches.meta.txt") + "'"));
}

TEST_CASE("cifar10: bad input names the file and what was wrong") {
  TempDir dir;
  write_cifar(dir);
  const std::string batch3 = dir / "data_batch_3.bin";

  SUBCASE("missing directory") {
    const std::string msg = error_of([&] { Cifar10Dataset(dir / "nope", Split::train); });
    CHECK(contains(msg, dir / "nope"));
    CHECK(contains(msg, "not found"));
  }
  SUBCASE("the directory is a file") {
    const std::string msg = error_of([&] { Cifar10Dataset(batch3, Split::train); });
    CHECK(contains(msg, "is not a directory"));
  }
  SUBCASE("missing batch file") {
    std::filesystem::remove(batch3);
    const std::string msg = error_of([&] { Cifar10Dataset(dir.path(), Split::train); });
    CHECK(contains(msg, batch3));
    CHECK(contains(msg, "cannot open"));
    CHECK(Cifar10Dataset(dir.path(), Split::test).size() == 3);  // the test split does not need it
  }
  SUBCASE("missing batches.meta.txt") {
    std::filesystem::remove(dir / "batches.meta.txt");
    CHECK(contains(error_of([&] { Cifar10Dataset(dir.path(), Split::test); }), dir / "batches.meta.txt"));
  }
  SUBCASE("too few class names") {
    ssl::test::write_text(dir / "batches.meta.txt", "a\nb\nc\n");
    const std::string msg = error_of([&] { Cifar10Dataset(dir.path(), Split::test); });
    CHECK(contains(msg, "batches.meta.txt"));
    CHECK(contains(msg, "expected 10 class names, found 3"));
  }
  SUBCASE("size not a whole number of records") {
    std::vector<uint8_t> bytes = ssl::test::read_bytes(batch3);
    bytes.push_back(0);
    ssl::test::write_bytes(batch3, bytes);
    const std::string msg = error_of([&] { Cifar10Dataset(dir.path(), Split::train); });
    CHECK(contains(msg, batch3));
    CHECK(contains(msg, "3073-byte records"));
    CHECK(contains(msg, "found 9220 bytes (3 records and 1 bytes over)"));
  }
  SUBCASE("truncated record") {
    std::vector<uint8_t> bytes = ssl::test::read_bytes(batch3);
    bytes.resize(bytes.size() - 100);
    ssl::test::write_bytes(batch3, bytes);
    CHECK(contains(error_of([&] { Cifar10Dataset(dir.path(), Split::train); }),
                   "2 records and 2973 bytes over"));
  }
  SUBCASE("empty file") {
    ssl::test::write_bytes(batch3, {});
    CHECK(contains(error_of([&] { Cifar10Dataset(dir.path(), Split::train); }), "found 0 bytes"));
  }
  SUBCASE("label above 9") {
    std::vector<uint8_t> bytes = ssl::test::read_bytes(batch3);
    bytes[3073] = 10;  // record 1
    ssl::test::write_bytes(batch3, bytes);
    const std::string msg = error_of([&] { Cifar10Dataset(dir.path(), Split::train); });
    CHECK(contains(msg, batch3));
    CHECK(contains(msg, "record 1 has label 10; expected 0..9"));
  }
  SUBCASE("no unlabeled split") {
    CHECK(contains(error_of([&] { Cifar10Dataset(dir.path(), Split::unlabeled); }), "no split 'unlabeled'"));
  }
}
