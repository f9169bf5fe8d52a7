// BMP files shorter than their headers declare, and headers out of range: refused with what was expected
// (data/bmp_size.h), where stb_image would decode the missing pixels as black.
#include <doctest/doctest.h>
#include <stb_image_write.h>

#include <cstdint>
#include <string>
#include <vector>

#include "data/image_decode.h"
#include "data/image_folder.h"
#include "file_test_util.h"

using namespace ssl;
using namespace ssl::data;
using ssl::test::contains;
using ssl::test::error_of;
using ssl::test::TempDir;

namespace {

// An h x w RGB picture whose pixels encode their position.
Image pattern(int64_t h, int64_t w) {
  Image img(h, w, 3);
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      for (int64_t ch = 0; ch < 3; ++ch) img(y, x, ch) = uint8_t(y * 16 + x * 3 + ch * 70);
    }
  }
  return img;
}

// `img` as stb_image_write writes a BMP: 54 bytes of headers, then 24-bit rows bottom-up, padded to 4 bytes.
std::vector<uint8_t> bmp_of(const Image& img) {
  std::vector<uint8_t> out;
  auto append = [](void* context, void* data, int n) {
    auto& bytes = *static_cast<std::vector<uint8_t>*>(context);
    const auto* d = static_cast<const uint8_t*>(data);
    bytes.insert(bytes.end(), d, d + n);
  };
  REQUIRE(stbi_write_bmp_to_func(append, &out, int(img.w), int(img.h), 3, img.pixels.data()));
  return out;
}

void put16(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (size_t i = 0; i < 2; ++i) b[at + i] = uint8_t(v >> (8 * i));
}
void put32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (size_t i = 0; i < 4; ++i) b[at + i] = uint8_t(v >> (8 * i));
}

// 54 bytes of BMP headers (a 40-byte BITMAPINFOHEADER) declaring a width x height image of `bpp` bits per
// pixel, compressed as `compression` (0: not at all), its pixel data at `offset`.
std::vector<uint8_t> bmp_headers(int32_t width, int32_t height, uint32_t bpp, uint32_t compression = 0,
                                 uint32_t offset = 54) {
  std::vector<uint8_t> b(54, 0);
  b[0] = 'B', b[1] = 'M';
  put32(b, 10, offset);
  put32(b, 14, 40);
  put32(b, 18, uint32_t(width));
  put32(b, 22, uint32_t(height));
  put16(b, 26, 1);  // colour planes
  put16(b, 28, bpp);
  put32(b, 30, compression);
  return b;
}

std::string bmp_decode_error(const std::vector<uint8_t>& bytes) {
  return error_of([&] { decode_image(bytes.data(), bytes.size(), "x.bmp"); });
}

}  // namespace

TEST_CASE("BMP: a whole file decodes; one cut short is refused, naming the file and the bytes missing") {
  const Image img = pattern(40, 40);
  const std::vector<uint8_t> whole = bmp_of(img);
  REQUIRE(whole.size() == 54 + 40 * 120);
  CHECK(decode_image(whole.data(), whole.size(), "x.bmp") == img);

  std::vector<uint8_t> cut(whole.begin(), whole.end() - 4);  // the last row's last pixel and a bit
  CHECK(
      bmp_decode_error(cut) ==
      "x.bmp: cannot decode the image (expected 4800 bytes of pixel data at offset 54, found 4796); the file "
      "is corrupt or truncated");
  cut.resize(354);  // most of the pixels gone
  CHECK(contains(bmp_decode_error(cut), "expected 4800 bytes of pixel data at offset 54, found 300"));
  cut.resize(54);  // the headers alone
  CHECK(contains(bmp_decode_error(cut), "expected 4800 bytes of pixel data at offset 54, found 0"));

  // Rows are padded to 4 bytes: 5 pixels of 3 bytes take 16.
  const std::vector<uint8_t> odd = bmp_of(pattern(3, 5));
  REQUIRE(odd.size() == 54 + 3 * 16);
  CHECK(decode_image(odd.data(), odd.size(), "odd.bmp") == pattern(3, 5));
  CHECK(contains(bmp_decode_error(std::vector<uint8_t>(odd.begin(), odd.end() - 1)),
                 "expected 48 bytes of pixel data at offset 54, found 47"));
}

TEST_CASE("BMP: a few bytes whose header declares 8000 x 8000 pixels are refused") {
  std::vector<uint8_t> tiny = bmp_headers(8000, 8000, 24);
  tiny.resize(64, 0x80);
  CHECK(contains(bmp_decode_error(tiny), "expected 192000000 bytes of pixel data at offset 54, found 10"));
}

TEST_CASE("BMP: rows stored top-down and 32-bit bit fields are checked too; RLE is left to stb_image") {
  // A negative height (rows stored top-down) counts as that many rows.
  std::vector<uint8_t> top_down = bmp_of(pattern(4, 6));
  put32(top_down, 22, uint32_t(-4));
  // Whole, it decodes, its first stored row on top (stb_image's header read gives the height as -4).
  const Image flipped = decode_image(top_down.data(), top_down.size(), "x.bmp");
  const Image upright = pattern(4, 6);
  CHECK(flipped.h == 4);
  CHECK(flipped.w == 6);
  for (int64_t y = 0; y < 4; ++y)
    for (int64_t x = 0; x < 6; ++x) CHECK(flipped(y, x, 1) == upright(3 - y, x, 1));
  {
    const TempDir dir;
    ssl::test::write_bytes(dir / "top_down.bmp", top_down);
    CHECK(image_file_header_problem(dir / "top_down.bmp").empty());
  }
  top_down.pop_back();
  CHECK(contains(bmp_decode_error(top_down), "expected 80 bytes of pixel data at offset 54, found 79"));

  // BI_BITFIELDS, 32 bits per pixel: the three colour masks follow the 40-byte header, the pixels the masks.
  std::vector<uint8_t> fields = bmp_headers(3, 2, 32, 3, 66);
  fields.resize(66 + 3 * 2 * 4);
  put32(fields, 54, 0x00FF0000), put32(fields, 58, 0x0000FF00), put32(fields, 62, 0x000000FF);
  for (size_t p = 0; p < 6; ++p) put32(fields, 66 + 4 * p, 0x00102030 + uint32_t(p));  // R 0x10, G 0x20, B
  const Image decoded = decode_image(fields.data(), fields.size(), "x.bmp");
  CHECK(decoded.h == 2);
  CHECK(decoded.w == 3);
  CHECK(decoded(1, 2, 0) == 0x10);  // the last pixel of the bottom row, stored third
  CHECK(decoded(1, 2, 2) == 0x32);
  fields.resize(fields.size() - 4);
  CHECK(contains(bmp_decode_error(fields), "expected 24 bytes of pixel data at offset 66, found 20"));

  // RLE8 pixel data has no length the header gives: not checked here (stb_image refuses RLE).
  std::vector<uint8_t> rle = bmp_headers(8000, 8000, 8, 1, 58);
  rle.resize(60);
  const std::string msg = bmp_decode_error(rle);
  CHECK(contains(msg, "x.bmp: cannot decode the image"));
  CHECK_FALSE(contains(msg, "pixel data"));
}

TEST_CASE("BMP: paletted pixels decode through their palette; an index beyond it is refused") {
  // 3 x 2 pixels, a palette of two colours (blue-green-red-unused each) between the headers and the pixels.
  const auto paletted = [](uint32_t bpp, std::vector<uint8_t> rows) {
    std::vector<uint8_t> b = bmp_headers(3, 2, bpp, 0, 54 + 8);
    for (uint8_t v : {10, 20, 30, 0, 40, 50, 60, 0}) b.push_back(v);
    b.insert(b.end(), rows.begin(), rows.end());
    return b;
  };
  // 8 bits: rows of 3 indices and a byte of padding, the bottom row first.
  std::vector<uint8_t> eight = paletted(8, {0, 1, 0, 0, 1, 1, 0, 0});
  const Image img = decode_image(eight.data(), eight.size(), "x.bmp");
  CHECK(img(1, 0, 0) == 30);  // the bottom row (stored first): index 0, red 30
  CHECK(img(1, 1, 0) == 60);  // index 1, red 60
  CHECK(img(0, 0, 0) == 60);  // the top row (stored second)
  CHECK(img(0, 2, 2) == 10);  // index 0, blue 10
  eight[54 + 8 + 4 + 2] = 2;  // the top row's last pixel: index 2 of a two-colour palette
  CHECK(
      contains(bmp_decode_error(eight),
               "expected palette indices below the 2 colours of the BMP's palette, found 2 in stored row 1, "
               "column 2"));
  // 4 bits: two pixels a byte, the first in the high half; the low half of a row's last byte is not a pixel.
  std::vector<uint8_t> four = paletted(4, {0x10, 0x0F, 0, 0, 0x01, 0x1F, 0, 0});
  CHECK(decode_image(four.data(), four.size(), "x.bmp")(0, 1, 0) == 60);
  four[54 + 8 + 1] = 0x3F;  // the bottom row's third pixel: index 3
  CHECK(contains(bmp_decode_error(four), "found 3 in stored row 0, column 2"));

  // An OS/2 BMP (12-byte header) of 8 x 2 pixels at 1 bit, its two colours (3 bytes each) before the pixels
  // at offset 32: stb_image 2.27 counts (32 - 38) / 3 of them, none, and would read every pixel from nothing.
  std::vector<uint8_t> os2(32 + 2 * 4, 0);
  os2[0] = 'B', os2[1] = 'M';
  put32(os2, 10, 32);
  put32(os2, 14, 12);
  put16(os2, 18, 8), put16(os2, 20, 2), put16(os2, 22, 1), put16(os2, 24, 1);
  CHECK(contains(bmp_decode_error(os2),
                 "below the 0 colours of the OS/2 BMP's palette as stb_image 2.27 counts it"));
}

TEST_CASE("BMP: headers cut short or out of range are refused with what was expected") {
  const std::vector<uint8_t> ok = bmp_headers(2, 2, 24);
  CHECK(contains(bmp_decode_error(std::vector<uint8_t>(ok.begin(), ok.begin() + 10)),
                 "expected a BMP file header and info header, found only 10 bytes"));
  CHECK(contains(bmp_decode_error(std::vector<uint8_t>(ok.begin(), ok.begin() + 30)),
                 "expected 54 bytes of BMP headers, found 30"));

  struct Case {
    std::vector<uint8_t> bytes;
    std::string expected;
  };
  std::vector<uint8_t> odd_info = ok;
  odd_info[14] = 44;  // the info header's size, 40 before
  const std::vector<Case> cases = {
      {odd_info, "expected a BMP info header of 12, 40, 56, 108 or 124 bytes, found one of 44"},
      {bmp_headers(0, 2, 24), "expected a BMP width of 1 to 16777216 pixels, found 0"},
      {bmp_headers(-5, 2, 24), "expected a BMP width of 1 to 16777216 pixels, found -5"},
      {bmp_headers(1 << 25, 2, 24), "expected a BMP width of 1 to 16777216 pixels, found 33554432"},
      {bmp_headers(2, 0, 24), "expected a BMP height of 1 to 16777216 pixels (or -1 to -16777216 for rows"},
      {bmp_headers(2, 0, 24), "stored top-down), found 0"},
      {bmp_headers(2, INT32_MIN, 24), "stored top-down), found -2147483648"},
      {bmp_headers(2, 2, 7), "expected 1, 4, 8, 16, 24 or 32 bits per BMP pixel, found 7"},
      {bmp_headers(2, 2, 24, 0, 20),
       "expected the BMP pixel data after the 54 bytes of headers, found it at offset 20"},
  };
  for (const Case& c : cases) {
    std::vector<uint8_t> bytes = c.bytes;
    bytes.resize(bytes.size() + 64);  // enough pixel data for a 2 x 2 image
    CAPTURE(c.expected);
    const std::string msg = bmp_decode_error(bytes);
    CHECK(contains(msg, "x.bmp: cannot decode the image ("));
    CHECK(contains(msg, c.expected));
  }
}

TEST_CASE("folder: a BMP cut short is refused when the folder is opened, or left out with skip_bad_images") {
  TempDir dir;
  const std::vector<uint8_t> whole = bmp_of(pattern(40, 40));
  ssl::test::write_bytes(dir / "cat/a.bmp", whole);
  ssl::test::write_bytes(dir / "cat/b.bmp", std::vector<uint8_t>(whole.begin(), whole.begin() + 354));
  const std::string msg = error_of([&] { ImageFolderDataset(dir.path()); });
  CHECK(contains(msg, dir / "cat/b.bmp"));
  CHECK(contains(msg, "expected 4800 bytes of pixel data at offset 54, found 300"));
  CHECK(contains(msg, "or the flag --skip-bad-images of the commands that have it, leaves such files out"));

  const ImageFolderDataset kept(dir.path(), {.size = 40, .skip_bad_images = true});
  CHECK(kept.size() == 1);
  REQUIRE(kept.skipped().size() == 1);
  CHECK(contains(kept.skipped()[0], dir / "cat/b.bmp"));
  CHECK(kept.image(0) == pattern(40, 40));
}

TEST_CASE("folder: an image of more pixels than decoded is refused when the folder is opened, not mid-run") {
  TempDir dir;
  ssl::test::write_bytes(dir / "cat/a.bmp", bmp_of(pattern(40, 40)));
  // 8200 x 8200 at one bit per pixel: a whole file (a two-colour palette, rows of 1028 bytes), 8.4 MB.
  std::vector<uint8_t> big = bmp_headers(8200, 8200, 1, 0, 62);
  big.resize(62 + size_t(1028) * 8200, 0);
  put32(big, 2, uint32_t(big.size()));
  ssl::test::write_bytes(dir / "cat/b.bmp", big);
  const std::string msg = error_of([&] { ImageFolderDataset(dir.path()); });
  CHECK(contains(msg, dir / "cat/b.bmp"));
  CHECK(
      contains(msg, "the header gives an image of 8200x8200 pixels, more than the 67108864 pixels accepted"));

  const ImageFolderDataset kept(dir.path(), {.size = 40, .skip_bad_images = true});
  CHECK(kept.size() == 1);
  REQUIRE(kept.skipped().size() == 1);
  CHECK(contains(kept.skipped()[0], "8200x8200"));
}
