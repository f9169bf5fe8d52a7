#include <doctest/doctest.h>
#include <stb_image_write.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "data/image_decode.h"
#include "data/image_folder.h"
#include "data/png_chunks.h"
#include "data/registry.h"
#include "file_test_util.h"

using namespace ssl;
using namespace ssl::data;
using ssl::test::check_specs_refused;
using ssl::test::contains;
using ssl::test::error_of;
using ssl::test::TempDir;

namespace {

// An h x w x c picture whose pixels encode their position: (y * 16 + x * 3 + ch * 70 + seed) mod 256.
Image pattern(int64_t h, int64_t w, int64_t c, int seed) {
  Image img(h, w, c);
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      for (int64_t ch = 0; ch < c; ++ch) img(y, x, ch) = uint8_t(y * 16 + x * 3 + ch * 70 + seed);
    }
  }
  return img;
}

void make_parent(const std::string& path) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
}

void write_png_with_stb(const std::string& path, const Image& img) {
  make_parent(path);
  REQUIRE(stbi_write_png(path.c_str(), int(img.w), int(img.h), int(img.c), img.pixels.data(),
                         int(img.w * img.c)));
}
void write_bmp(const std::string& path, const Image& img) {
  make_parent(path);
  REQUIRE(stbi_write_bmp(path.c_str(), int(img.w), int(img.h), int(img.c), img.pixels.data()));
}
void write_jpg(const std::string& path, const Image& img) {
  make_parent(path);
  REQUIRE(stbi_write_jpg(path.c_str(), int(img.w), int(img.h), int(img.c), img.pixels.data(), 100));
}

// A labelled folder of 8x8 images: cat/{a.png, b.bmp}, dog/{c.jpg, d.PNG (grey)}, plus files to ignore.
void write_classes(const TempDir& dir) {
  write_png_with_stb(dir / "cat/a.png", pattern(8, 8, 3, 0));
  write_bmp(dir / "cat/b.bmp", pattern(8, 8, 3, 5));
  Image flat(8, 8, 3);
  for (int64_t p = 0; p < 64; ++p) {
    flat.pixels[size_t(3 * p)] = 200;
    flat.pixels[size_t(3 * p + 1)] = 100;
    flat.pixels[size_t(3 * p + 2)] = 30;
  }
  write_jpg(dir / "dog/c.jpg", flat);
  write_png_with_stb(dir / "dog/d.PNG", pattern(8, 8, 1, 9));
  ssl::test::write_text(dir / "dog/notes.txt", "not an image");
  ssl::test::write_text(dir / "dog/.hidden.png", "not an image either");
  std::filesystem::create_directories(dir / "dog/nested");
  std::filesystem::create_directories(dir / ".git");
}

}  // namespace

TEST_CASE("folder: class sub-folders, formats and exact pixels") {
  TempDir dir;
  write_classes(dir);
  const ImageFolderDataset ds(dir.path(), {.size = 8});
  REQUIRE(ds.size() == 4);
  CHECK(ds.num_classes() == 2);
  CHECK(ds.class_names() == std::vector<std::string>{"cat", "dog"});
  CHECK(ds.skipped_count() == 0);
  CHECK(ds.path(0) == dir / "cat/a.png");
  CHECK(ds.path(1) == dir / "cat/b.bmp");
  CHECK(ds.path(2) == dir / "dog/c.jpg");
  CHECK(ds.path(3) == dir / "dog/d.PNG");
  CHECK(ds.label(0) == 0);
  CHECK(ds.label(1) == 0);
  CHECK(ds.label(2) == 1);
  CHECK(ds.label(3) == 1);
  CHECK(contains(ds.name(), "4 images, 2 classes, 8px"));

  CHECK(ds.image(0) == pattern(8, 8, 3, 0));  // PNG and BMP are lossless
  CHECK(ds.image(1) == pattern(8, 8, 3, 5));
  const Image jpg = ds.image(2);
  REQUIRE(jpg.same_shape(Image(8, 8, 3)));
  for (int64_t p = 0; p < 64; ++p) {  // a flat colour survives JPEG almost unchanged
    CHECK(std::abs(int(jpg.pixels[size_t(3 * p)]) - 200) <= 3);
    CHECK(std::abs(int(jpg.pixels[size_t(3 * p + 1)]) - 100) <= 3);
    CHECK(std::abs(int(jpg.pixels[size_t(3 * p + 2)]) - 30) <= 3);
  }
  // A grey PNG comes back as RGB with the grey value in every channel.
  const Image grey = ds.image(3);
  const Image grey_src = pattern(8, 8, 1, 9);
  REQUIRE(grey.same_shape(Image(8, 8, 3)));
  int64_t wrong = 0;
  for (int64_t y = 0; y < 8; ++y) {
    for (int64_t x = 0; x < 8; ++x) {
      for (int64_t ch = 0; ch < 3; ++ch) wrong += grey(y, x, ch) != grey_src(y, x, 0);
    }
  }
  CHECK(wrong == 0);
  CHECK(contains(error_of([&] { ds.image(4); }), "out of range"));
}

TEST_CASE("folder: resizing crops the centred square and antialiases") {
  TempDir dir;
  // 8 high, 16 wide: columns 0-3 red, 4-11 green, 12-15 blue. The centred square is all green.
  Image wide(8, 16, 3);
  for (int64_t y = 0; y < 8; ++y) {
    for (int64_t x = 0; x < 16; ++x) wide(y, x, x < 4 ? 0 : x < 12 ? 1 : 2) = 255;
  }
  write_png_with_stb(dir / "wide.png", wide);
  // A 16x16 one-pixel checkerboard of 0 and 255: shrunk to 4x4 it must average to grey, not alias.
  Image checker(16, 16, 3);
  for (int64_t y = 0; y < 16; ++y) {
    for (int64_t x = 0; x < 16; ++x) {
      for (int64_t ch = 0; ch < 3; ++ch) checker(y, x, ch) = (x + y) % 2 ? 255 : 0;
    }
  }
  write_png_with_stb(dir / "x_checker.png", checker);

  const ImageFolderDataset ds8(dir.path(), {.size = 8});
  REQUIRE(ds8.size() == 2);
  CHECK(ds8.num_classes() == 0);
  CHECK(ds8.label(0) == -1);
  Image green(8, 8, 3);
  for (int64_t p = 0; p < 64; ++p) green.pixels[size_t(3 * p + 1)] = 255;
  CHECK(ds8.image(0) == green);

  const ImageFolderDataset ds4(dir.path(), {.size = 4});
  const Image small = ds4.image(1);
  REQUIRE(small.same_shape(Image(4, 4, 3)));
  for (const uint8_t v : small.pixels) CHECK(std::abs(int(v) - 128) <= 2);
  // Enlarging works too: the default size is 32.
  const ImageFolderDataset ds32(dir.path());
  CHECK(ds32.image(0).same_shape(Image(32, 32, 3)));
  // Enlarging interpolates: away from the square's left and right edges (where the filter reaches the red and
  // blue columns outside it) every pixel is pure green.
  const Image big = ds32.image(0);
  int64_t not_green = 0;
  for (int64_t y = 0; y < 32; ++y) {
    for (int64_t x = 4; x < 28; ++x)
      not_green += big(y, x, 0) != 0 || big(y, x, 1) != 255 || big(y, x, 2) != 0;
  }
  CHECK(not_green == 0);
}

TEST_CASE(
    "folder: an odd width difference crops at a whole pixel, so a square of the output's size is copied") {
  TempDir dir;
  // 8 high, 9 wide, column x holding 20 x: the centred 8 x 8 square starts at column 0 (as CenterCrop's).
  Image ramp(8, 9, 3);
  for (int64_t y = 0; y < 8; ++y) {
    for (int64_t x = 0; x < 9; ++x) ramp(y, x, 0) = uint8_t(20 * x);
  }
  write_png_with_stb(dir / "ramp.png", ramp);
  const Image out = ImageFolderDataset(dir.path(), {.size = 8}).image(0);
  for (int64_t x = 0; x < 8; ++x) CHECK(out(3, x, 0) == 20 * x);
}

TEST_CASE("folder: open_dataset specs") {
  TempDir dir;
  write_classes(dir);
  auto ds = open_dataset("folder:" + dir.path());
  CHECK(ds->size() == 4);
  CHECK(ds->image(0).h == 32);
  CHECK(open_dataset("folder:" + dir.path() + ":8")->image(1) == pattern(8, 8, 3, 5));
  CHECK(open_dataset("folder:" + dir.path() + ":skip-bad:8")->image(0).h == 8);
  check_specs_refused({"folder", "folder:", "folder:" + dir.path() + ":0", "folder:" + dir.path() + ":-4",
                       "folder:" + dir.path() + ":8:9", "folder:" + dir.path() + ":skip",
                       "folder:" + dir.path() + ":skip-bad:skip-bad"},
                      "folder:DIR");
}

TEST_CASE("folder: bad input names the file and what was wrong") {
  TempDir dir;
  write_classes(dir);
  SUBCASE("missing directory") {
    const std::string msg = error_of([&] { ImageFolderDataset(dir / "absent"); });
    CHECK(contains(msg, dir / "absent"));
    CHECK(contains(msg, "not found"));
  }
  SUBCASE("empty class folder") {
    std::filesystem::create_directories(dir / "emu");
    ssl::test::write_text(dir / "emu/readme.txt", "no images here");
    const std::string msg = error_of([&] { ImageFolderDataset(dir.path()); });
    CHECK(contains(msg, dir / "emu"));
    CHECK(contains(msg, "has no image file; expected at least one image file"));
  }
  SUBCASE("a class folder holding only a sub-folder") {
    std::filesystem::create_directories(dir / "emu/deeper");
    write_png_with_stb(dir / "emu/deeper/a.png", pattern(8, 8, 3, 1));
    CHECK(contains(error_of([&] { ImageFolderDataset(dir.path()); }),
                   "has no image file, only sub-folders ('deeper'...), which are not read"));
  }
  SUBCASE("a class folder whose name is not UTF-8 (runs record class names in JSON)") {
    std::filesystem::create_directories(dir / "emu\xFF");
    write_png_with_stb(dir / "emu\xFF/a.png", pattern(8, 8, 3, 1));
    CHECK(contains(error_of([&] { ImageFolderDataset(dir.path()); }),
                   "a class folder's name is not UTF-8 text (byte 3 is 0xFF, after 'emu')"));
  }
  SUBCASE("an empty directory") {
    TempDir empty;
    CHECK(contains(error_of([&] { ImageFolderDataset(empty.path()); }), "no image files"));
  }
  SUBCASE("class folders and loose images together") {
    write_png_with_stb(dir / "loose.png", pattern(8, 8, 3, 1));
    const std::string msg = error_of([&] { ImageFolderDataset(dir.path()); });
    CHECK(contains(msg, "found both class sub-folders"));
    CHECK(contains(msg, "loose.png"));
  }
  SUBCASE("a size out of range") {
    CHECK(contains(error_of([&] { ImageFolderDataset(dir.path(), {.size = 0}); }),
                   "expected an image size of 1 to 8192 pixels, got 0"));
    CHECK(contains(error_of([&] { ImageFolderDataset(dir.path(), {.size = 8193}); }),
                   "expected an image size of 1 to 8192 pixels, got 8193"));
  }
  SUBCASE("an undecodable file: an error, or a counted warning with skip_bad_images") {
    ssl::test::write_text(dir / "cat/broken.png", "this is not a PNG file at all");
    const std::string msg = error_of([&] { ImageFolderDataset(dir.path()); });
    CHECK(contains(msg, dir / "cat/broken.png"));
    CHECK(contains(msg, "cannot read the image header"));
    CHECK(contains(msg, "the spec suffix ':skip-bad', or the flag --skip-bad-images"));

    const ImageFolderDataset ds(dir.path(), {.size = 8, .skip_bad_images = true});
    CHECK(ds.size() == 4);
    CHECK(ds.skipped_count() == 1);
    REQUIRE(ds.skipped().size() == 1);
    CHECK(contains(ds.skipped()[0], dir / "cat/broken.png"));
    CHECK(ds.path(1) == dir / "cat/b.bmp");
    CHECK(ds.image(1) == pattern(8, 8, 3, 5));
    CHECK(contains(ds.name(), "1 skipped"));
    CHECK(open_dataset("folder:" + dir.path() + ":8:skip-bad")->size() == 4);
  }
  SUBCASE(
      "a file whose header reads but whose pixels do not: the error when it is loaded says how to go on") {
    write_png_with_stb(dir / "cat/damaged.png", pattern(8, 8, 3, 2));
    std::vector<uint8_t> bytes = ssl::test::read_bytes(dir / "cat/damaged.png");
    bytes[bytes.size() - 20] ^= 0xFF;  // in the image data, before IEND: its chunk's CRC no longer matches
    ssl::test::write_bytes(dir / "cat/damaged.png", bytes);
    const ImageFolderDataset ds(dir.path(), {.size = 8});
    int64_t damaged = -1;
    for (int64_t i = 0; i < ds.size(); ++i)
      if (ds.path(i) == dir / "cat/damaged.png") damaged = i;
    REQUIRE(damaged >= 0);
    const std::string msg = error_of([&] { ds.image(damaged); });
    CHECK(contains(msg, dir / "cat/damaged.png"));
    CHECK(contains(msg, "cannot decode the image"));
    CHECK(contains(msg, "the spec suffix ':skip-bad', or the flag --skip-bad-images"));
  }
  SUBCASE("an empty file") {
    ssl::test::write_bytes(dir / "dog/empty.jpg", {});
    CHECK(contains(error_of([&] { ImageFolderDataset(dir.path()); }), dir / "dog/empty.jpg"));
  }
  SUBCASE("every file of a class bad, even when skipping") {
    std::filesystem::create_directories(dir / "emu");
    ssl::test::write_text(dir / "emu/x.bmp", "garbage");
    const std::string msg = error_of([&] { ImageFolderDataset(dir.path(), {.skip_bad_images = true}); });
    CHECK(contains(msg, dir / "emu"));
    CHECK(contains(msg, "no readable image"));
  }
  SUBCASE("a truncated PNG: the header reads, decoding fails in image(); skip_bad_images finds it") {
    const std::vector<uint8_t> whole = ssl::test::read_bytes(dir / "cat/a.png");
    REQUIRE(whole.size() > 60);
    ssl::test::write_bytes(dir / "cat/a.png", std::vector<uint8_t>(whole.begin(), whole.begin() + 60));
    const ImageFolderDataset ds(dir.path(), {.size = 8});
    CHECK(ds.image(1) == pattern(8, 8, 3, 5));
    const std::string msg = error_of([&] { ds.image(0); });
    CHECK(contains(msg, dir / "cat/a.png"));
    CHECK(contains(msg, "cannot decode"));

    // Skipping decodes every file when the folder is opened, so what it keeps can all be read.
    const ImageFolderDataset kept(dir.path(), {.size = 8, .skip_bad_images = true});
    CHECK(kept.size() == ds.size() - 1);
    REQUIRE(kept.skipped().size() == 1);
    CHECK(contains(kept.skipped()[0], dir / "cat/a.png"));
    CHECK(contains(kept.skipped()[0], "cannot decode"));
    for (int64_t i = 0; i < kept.size(); ++i) CHECK_NOTHROW(kept.image(i));
  }
  SUBCASE("a JPEG Huffman table with more than 256 codes: refused before it is built") {
    // dog/c.jpg holds its Huffman tables after the frame header: the header reads, image() refuses it.
    std::vector<uint8_t> jpg = ssl::test::read_bytes(dir / "dog/c.jpg");
    size_t dht = 2;
    while (dht + 1 < jpg.size() && !(jpg[dht] == 0xFF && jpg[dht + 1] == 0xC4)) ++dht;
    REQUIRE(dht + 21 < jpg.size());
    for (size_t i = 0; i < 16; ++i) jpg[dht + 5 + i] = 0x20;  // 16 x 32 = 512 codes
    ssl::test::write_bytes(dir / "dog/c.jpg", jpg);
    const ImageFolderDataset ds(dir.path(), {.size = 8});
    const std::string msg = error_of([&] { ds.image(2); });
    CHECK(contains(msg, dir / "dog/c.jpg"));
    CHECK(contains(msg, "cannot decode"));
    CHECK(contains(msg, "Huffman table declares 512 codes"));
    CHECK(contains(msg, "corrupt or truncated"));

    // The same table before the frame header: the header check when the dataset is opened refuses it.
    // SOI, DHT (class 0, id 0, 16 counts of 32), SOF0 (8x8, one component).
    const std::vector<uint8_t> head = {0xFF, 0xD8, 0xFF, 0xC4, 0x00, 0x13, 0x00, 0x20, 0x20,
                                       0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
                                       0x20, 0x20, 0x20, 0x20, 0x20, 0xFF, 0xC0, 0x00, 0x0B,
                                       0x08, 0x00, 0x08, 0x00, 0x08, 0x01, 0x01, 0x11, 0x00};
    ssl::test::write_bytes(dir / "dog/c.jpg", head);
    const std::string open_msg = error_of([&] { ImageFolderDataset(dir.path()); });
    CHECK(contains(open_msg, dir / "dog/c.jpg"));
    CHECK(contains(open_msg, "Huffman table declares 512 codes"));
  }
  SUBCASE("a JPEG scan naming a Huffman table never defined: refused before it is decoded with") {
    std::vector<uint8_t> jpg = ssl::test::read_bytes(dir / "dog/c.jpg");
    CHECK(decode_image(jpg.data(), jpg.size(), "c.jpg").w == 8);  // decodes before the change
    size_t sos = 2;
    while (sos + 1 < jpg.size() && !(jpg[sos] == 0xFF && jpg[sos + 1] == 0xDA)) ++sos;
    REQUIRE(sos + 6 < jpg.size());
    jpg[sos + 6] = 0x02;  // the first component's tables: DC 0 (defined), AC 2 (no DHT defines it)
    ssl::test::write_bytes(dir / "dog/c.jpg", jpg);
    const ImageFolderDataset ds(dir.path(), {.size = 8});
    const std::string msg = error_of([&] { ds.image(2); });
    CHECK(contains(msg, dir / "dog/c.jpg"));
    CHECK(contains(msg, "a scan uses AC Huffman table 2, never defined"));
  }
  SUBCASE("a JPEG component naming a quantization table never defined: refused before it dequantizes") {
    std::vector<uint8_t> jpg = ssl::test::read_bytes(dir / "dog/c.jpg");
    size_t sof = 2;
    while (sof + 1 < jpg.size() && !(jpg[sof] == 0xFF && jpg[sof + 1] == 0xC0)) ++sof;
    REQUIRE(sof + 12 < jpg.size());
    jpg[sof + 12] = 3;  // the first component's quantization table: 3, which no DQT defines
    ssl::test::write_bytes(dir / "dog/c.jpg", jpg);
    const ImageFolderDataset ds(dir.path(), {.size = 8});
    const std::string msg = error_of([&] { ds.image(2); });
    CHECK(contains(msg, dir / "dog/c.jpg"));
    CHECK(contains(msg, "uses quantization table 3, never defined"));
  }
  SUBCASE(
      "a header declaring more pixels than accepted: refused before decoding, when the folder is opened") {
    std::vector<uint8_t> png = ssl::test::read_bytes(dir / "cat/a.png");
    REQUIRE(png.size() > 24);
    for (size_t at : {size_t(16), size_t(20)}) {  // the IHDR width and height, big-endian: 10000 x 10000
      png[at] = 0, png[at + 1] = 0, png[at + 2] = 0x27, png[at + 3] = 0x10;
    }
    rewrite_png_crcs(png.data(), png.size());
    ssl::test::write_bytes(dir / "cat/a.png", png);
    const std::string msg = error_of([&] { ImageFolderDataset(dir.path(), {.size = 8}); });
    CHECK(contains(msg, dir / "cat/a.png"));
    CHECK(contains(
        msg, "the header gives an image of 10000x10000 pixels, more than the 67108864 pixels accepted"));
    CHECK(contains(error_of([&] { decode_image(png.data(), png.size(), "a.png"); }),
                   "a.png: the header gives an image of 10000x10000 pixels, more than the 67108864 pixels"));
    // 30000 x 30000, more than stb_image's own limit, whose refusal named no size ("not of any known type").
    for (size_t at : {size_t(16), size_t(20)}) png[at + 2] = 0x75, png[at + 3] = 0x30;
    rewrite_png_crcs(png.data(), png.size());
    ssl::test::write_bytes(dir / "cat/a.png", png);
    CHECK(contains(error_of([&] { decode_image(png.data(), png.size(), "a.png"); }),
                   "30000x30000 pixels, more than the 67108864 pixels accepted"));
    CHECK(contains(error_of([&] { ImageFolderDataset(dir.path()); }),
                   "a PNG of 30000x30000 pixels, more than the decoder takes"));
  }
  SUBCASE("a JPEG cut short is named as one, not by the last format the decoder tried") {
    std::vector<uint8_t> jpg = ssl::test::read_bytes(dir / "dog/c.jpg");
    jpg.resize(jpg.size() * 2 / 3);
    const std::string msg = error_of([&] { decode_image(jpg.data(), jpg.size(), "c.jpg"); });
    CHECK(contains(msg, "c.jpg: cannot decode the image (its JPEG data does not decode)"));
    CHECK_FALSE(contains(msg, "PNG"));
  }
  SUBCASE("a PNG chunk longer than the file: refused before its buffer is allocated") {
    std::vector<uint8_t> png = ssl::test::read_bytes(dir / "cat/a.png");
    size_t idat = 8;
    while (idat + 8 < png.size() &&
           std::string(png.begin() + long(idat) + 4, png.begin() + long(idat) + 8) != "IDAT") {
      idat += 12 + (size_t(png[idat]) << 24 | size_t(png[idat + 1]) << 16 | size_t(png[idat + 2]) << 8 |
                    png[idat + 3]);
    }
    REQUIRE(idat + 8 < png.size());
    png[idat] = 0x7F, png[idat + 1] = 0xFF, png[idat + 2] = 0xFF, png[idat + 3] = 0xF0;  // about 2 GB
    ssl::test::write_bytes(dir / "cat/a.png", png);
    const ImageFolderDataset ds(dir.path(), {.size = 8});
    const std::string msg = error_of([&] { ds.image(0); });
    CHECK(contains(msg, dir / "cat/a.png"));
    CHECK(contains(msg, "declares 2147483632 data bytes, but only"));
    CHECK(contains(msg, "corrupt or truncated"));
  }
  SUBCASE("formats other than JPEG, PNG and BMP are refused at the header, whatever the file name") {
    // A 16-bit greyscale PNM, whose decoder in stb_image 2.27 read past its buffer.
    const std::string pnm = "P5\n3 2\n3255\n" + std::string(12, '\x80');
    const std::vector<uint8_t> bytes(pnm.begin(), pnm.end());
    ssl::test::write_bytes(dir / "cat/a.png", bytes);
    const std::string msg = error_of([&] { ImageFolderDataset(dir.path()); });
    CHECK(contains(msg, dir / "cat/a.png"));
    CHECK(contains(msg, "cannot read the image header"));
    const std::string decode_msg = error_of([&] { decode_image(bytes.data(), bytes.size(), "p.png"); });
    CHECK(contains(decode_msg, "p.png: cannot decode the image"));
  }
  SUBCASE("a PNG cut inside its header") {
    const std::vector<uint8_t> whole = ssl::test::read_bytes(dir / "cat/a.png");
    ssl::test::write_bytes(dir / "cat/a.png", std::vector<uint8_t>(whole.begin(), whole.begin() + 12));
    CHECK(contains(error_of([&] { ImageFolderDataset(dir.path()); }), dir / "cat/a.png"));
    CHECK(ImageFolderDataset(dir.path(), {.skip_bad_images = true}).skipped_count() == 1);
  }
}

TEST_CASE("folder: image() from several threads at once") {
  TempDir dir;
  write_classes(dir);
  const ImageFolderDataset ds(dir.path(), {.size = 6});
  std::vector<Image> expected;
  for (int64_t i = 0; i < ds.size(); ++i) expected.push_back(ds.image(i));
  std::atomic<int64_t> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 10; ++rep) {
        for (int64_t i = 0; i < ds.size(); ++i) {
          const int64_t k = (i + t) % ds.size();
          wrong += ds.image(k) != expected[size_t(k)];
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  CHECK(wrong.load() == 0);
  CHECK(expected[0].h == 6);
}

TEST_CASE("folder: file name filter") {
  CHECK(ImageFolderDataset::is_image_file_name("a.png"));
  CHECK(ImageFolderDataset::is_image_file_name("a.JPEG"));
  CHECK(ImageFolderDataset::is_image_file_name("x.y.Jpg"));
  CHECK(ImageFolderDataset::is_image_file_name("b.bmp"));
  CHECK_FALSE(ImageFolderDataset::is_image_file_name("a.gif"));
  CHECK_FALSE(ImageFolderDataset::is_image_file_name("png"));
  CHECK_FALSE(ImageFolderDataset::is_image_file_name(".png"));
  CHECK_FALSE(ImageFolderDataset::is_image_file_name("a.png.txt"));
}
