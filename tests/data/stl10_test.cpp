#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "data/registry.h"
#include "data/stl10.h"
#include "file_test_util.h"

using namespace ssl;
using namespace ssl::data;
using ssl::test::check_specs_refused;
using ssl::test::contains;
using ssl::test::error_of;
using ssl::test::TempDir;

namespace {

constexpr int64_t S = 96;

// The pixel of image n at (row y, column x, channel ch). Image 0 holds its row, image 1 its column and
// image 2 its channel, so each coordinate is read back exactly; later images mix all three.
uint8_t stl_pixel(int64_t n, int64_t y, int64_t x, int64_t ch) {
  switch (n) {
    case 0:
      return uint8_t(y);
    case 1:
      return uint8_t(x);
    case 2:
      return uint8_t(ch);
    default:
      return uint8_t(n * 31 + y * 7 + x * 13 + ch * 101);
  }
}

// An X file of `count` images in STL-10's layout: [N][3][96][96], column-major per channel (the byte at
// c*9216 + x*96 + y is row y, column x), written here straight from that definition.
std::vector<uint8_t> x_file(int64_t count) {
  std::vector<uint8_t> bytes(size_t(count * 3 * S * S));
  for (int64_t n = 0; n < count; ++n) {
    for (int64_t ch = 0; ch < 3; ++ch) {
      for (int64_t y = 0; y < S; ++y) {
        for (int64_t x = 0; x < S; ++x)
          bytes[size_t(n * 3 * S * S + ch * S * S + x * S + y)] = stl_pixel(n, y, x, ch);
      }
    }
  }
  return bytes;
}

const std::vector<std::string> kStlNames = {"airplane", "bird",  "car",    "cat",  "deer",
                                            "dog",      "horse", "monkey", "ship", "truck"};

// train: 5 images with labels 1, 10, 5, 2, 7 on file; test: 4 images, labels 3, 3, 8, 1; unlabeled: 6.
void write_stl(const TempDir& dir) {
  ssl::test::write_bytes(dir / "train_X.bin", x_file(5));
  ssl::test::write_bytes(dir / "train_y.bin", {1, 10, 5, 2, 7});
  ssl::test::write_bytes(dir / "test_X.bin", x_file(4));
  ssl::test::write_bytes(dir / "test_y.bin", {3, 3, 8, 1});
  ssl::test::write_bytes(dir / "unlabeled_X.bin", x_file(6));
  std::string names;
  for (const std::string& n : kStlNames) names += n + "\n";
  ssl::test::write_text(dir / "class_names.txt", names);
}

int64_t wrong_pixels(const Image& img, int64_t n) {
  if (img.h != S || img.w != S || img.c != 3) return -1;
  int64_t wrong = 0;
  for (int64_t y = 0; y < S; ++y) {
    for (int64_t x = 0; x < S; ++x) {
      for (int64_t ch = 0; ch < 3; ++ch) wrong += img(y, x, ch) != stl_pixel(n, y, x, ch);
    }
  }
  return wrong;
}

}  // namespace

TEST_CASE("stl10: column-major images and 1-based labels decode exactly") {
  TempDir dir;
  write_stl(dir);
  const Stl10Dataset train(dir.path(), Split::train);
  REQUIRE(train.size() == 5);
  CHECK(train.num_classes() == 10);
  CHECK(train.class_names() == kStlNames);
  CHECK(contains(train.name(), ":train (5 images)"));
  const std::vector<int64_t> labels = {0, 9, 4, 1, 6};
  for (int64_t n = 0; n < 5; ++n) {
    CAPTURE(n);
    CHECK(train.label(n) == labels[size_t(n)]);
    CHECK(wrong_pixels(train.image(n), n) == 0);
  }
  // Spelled out: image 0 holds the row, image 1 the column, image 2 the channel.
  CHECK(int(train.image(0)(70, 3, 0)) == 70);
  CHECK(int(train.image(1)(70, 3, 2)) == 3);
  CHECK(int(train.image(2)(5, 60, 1)) == 1);

  const Stl10Dataset test(dir.path(), Split::test);
  REQUIRE(test.size() == 4);
  CHECK(test.label(0) == 2);
  CHECK(test.label(2) == 7);
  CHECK(test.label(3) == 0);
  CHECK(wrong_pixels(test.image(3), 3) == 0);
  CHECK(contains(error_of([&] { test.image(4); }), "out of range"));
}

TEST_CASE("stl10: the unlabeled split needs only its X file") {
  TempDir dir;
  write_stl(dir);
  std::filesystem::remove(dir / "class_names.txt");
  const Stl10Dataset unl(dir.path(), Split::unlabeled);
  REQUIRE(unl.size() == 6);
  CHECK(unl.num_classes() == 0);
  CHECK(unl.class_names().empty());
  for (int64_t n = 0; n < 6; ++n) {
    CHECK(unl.label(n) == -1);
    CHECK(wrong_pixels(unl.image(n), n) == 0);
  }
}

TEST_CASE("stl10: image() from several threads at once") {
  TempDir dir;
  write_stl(dir);
  const Stl10Dataset unl(dir.path(), Split::unlabeled);
  std::atomic<int64_t> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 5; ++rep) {
        for (int64_t n = 0; n < unl.size(); ++n) {
          const int64_t k = (n + t) % unl.size();
          wrong += wrong_pixels(unl.image(k), k) != 0;
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  CHECK(wrong.load() == 0);
}

TEST_CASE("stl10: open_dataset specs") {
  TempDir dir;
  write_stl(dir);
  CHECK(open_dataset("stl10:" + dir.path())->size() == 5);
  CHECK(open_dataset("stl10:" + dir.path() + ":test")->size() == 4);
  CHECK(open_dataset("stl10:" + dir.path() + ":unlabeled")->size() == 6);
  check_specs_refused({"stl10", "stl10:" + dir.path() + ":unlabelled", "stl10:" + dir.path() + ":a:b"},
                      "stl10:DIR");
}

TEST_CASE("stl10: the directory the archive extracts to, or the one above it") {
  TempDir above, files;
  write_stl(files);
  std::filesystem::rename(files.path(), above / "stl10_binary");
  CHECK(open_dataset("stl10:" + above.path() + ":train")->size() == 5);
  CHECK(Stl10Dataset(above / "stl10_binary", Split::train).size() == 5);
  std::filesystem::remove(above / "stl10_binary/test_X.bin");
  const std::string msg = error_of([&] { Stl10Dataset(above.path(), Split::test); });
  CHECK(contains(msg, "found neither '" + (above / "test_X.bin") + "' nor '" +
                          (above / "stl10_binary/test_X.bin") + "'"));
}

TEST_CASE("stl10: bad input names the file and what was wrong") {
  TempDir dir;
  write_stl(dir);
  SUBCASE("missing directory") {
    const std::string msg = error_of([&] { Stl10Dataset(dir / "missing", Split::train); });
    CHECK(contains(msg, dir / "missing"));
    CHECK(contains(msg, "not found"));
  }
  SUBCASE("missing X file") {
    std::filesystem::remove(dir / "test_X.bin");
    CHECK(contains(error_of([&] { Stl10Dataset(dir.path(), Split::test); }), dir / "test_X.bin"));
  }
  SUBCASE("missing y file") {
    std::filesystem::remove(dir / "train_y.bin");
    const std::string msg = error_of([&] { Stl10Dataset(dir.path(), Split::train); });
    CHECK(contains(msg, dir / "train_y.bin"));
    CHECK(contains(msg, "cannot open"));
  }
  SUBCASE("missing class_names.txt") {
    std::filesystem::remove(dir / "class_names.txt");
    CHECK(contains(error_of([&] { Stl10Dataset(dir.path(), Split::train); }), dir / "class_names.txt"));
  }
  SUBCASE("X size not a whole number of images") {
    std::vector<uint8_t> bytes = x_file(6);
    bytes.pop_back();
    ssl::test::write_bytes(dir / "unlabeled_X.bin", bytes);
    const std::string msg = error_of([&] { Stl10Dataset(dir.path(), Split::unlabeled); });
    CHECK(contains(msg, dir / "unlabeled_X.bin"));
    CHECK(contains(msg, "27648-byte images"));
    CHECK(contains(msg, "5 images and 27647 bytes over"));
  }
  SUBCASE("y file does not hold one label per image") {
    ssl::test::write_bytes(dir / "train_y.bin", {1, 2, 3, 4});
    const std::string msg = error_of([&] { Stl10Dataset(dir.path(), Split::train); });
    CHECK(contains(msg, dir / "train_y.bin"));
    CHECK(contains(msg, "(5 bytes), found 4 bytes"));
  }
  SUBCASE("label 0") {
    ssl::test::write_bytes(dir / "train_y.bin", {1, 2, 0, 4, 5});
    const std::string msg = error_of([&] { Stl10Dataset(dir.path(), Split::train); });
    CHECK(contains(msg, dir / "train_y.bin"));
    CHECK(contains(msg, "label 2 is 0; expected 1..10"));
  }
  SUBCASE("label 11") {
    ssl::test::write_bytes(dir / "test_y.bin", {1, 2, 3, 11});
    CHECK(
        contains(error_of([&] { Stl10Dataset(dir.path(), Split::test); }), "label 3 is 11; expected 1..10"));
  }
  SUBCASE("a file that shrinks after opening") {
    const Stl10Dataset unl(dir.path(), Split::unlabeled);
    ssl::test::write_bytes(dir / "unlabeled_X.bin", x_file(2));
    CHECK(wrong_pixels(unl.image(1), 1) == 0);
    const std::string msg = error_of([&] { unl.image(4); });
    CHECK(contains(msg, dir / "unlabeled_X.bin"));
    CHECK(contains(msg, "shorter than when it was opened"));
  }
}
