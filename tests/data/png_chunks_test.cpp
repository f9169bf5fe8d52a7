// PNG files whose image data inflates far beyond their header, or whose palette indices lie beyond the
// palette: refused with what was expected (data/png_chunks.h), where stb_image would allocate what the data
// inflates to, or look the indices up in uninitialised memory.
#include <doctest/doctest.h>
#include <stb_image_write.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "data/image_decode.h"
#include "file_test_util.h"

using namespace ssl;
using namespace ssl::data;
using ssl::test::contains;
using ssl::test::error_of;

namespace {

// A w x h image of `channels` 8-bit channels as stb_image_write writes a PNG: the signature, IHDR (its colour
// type at byte 25), then IDAT chunks of the rows, each filtered as the writer chooses, and IEND.
std::vector<uint8_t> png_of(const std::vector<uint8_t>& pixels, int w, int h, int channels) {
  std::vector<uint8_t> out;
  auto append = [](void* context, void* data, int n) {
    auto& bytes = *static_cast<std::vector<uint8_t>*>(context);
    const auto* d = static_cast<const uint8_t*>(data);
    bytes.insert(bytes.end(), d, d + n);
  };
  REQUIRE(stbi_write_png_to_func(append, &out, w, h, channels, pixels.data(), w * channels));
  return out;
}

void put_be32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (size_t i = 0; i < 4; ++i) b[at + i] = uint8_t(v >> (24 - 8 * i));
}

// A palette image of `indices` (w x h, a byte each): written as a grey image, then relabelled colour type 3
// with a PLTE chunk of `palette` after IHDR. (Neither stb_image nor this project checks chunk CRCs; they are
// left at zero.)
std::vector<uint8_t> palette_png(const std::vector<uint8_t>& indices, int w, int h,
                                 const std::vector<std::array<uint8_t, 3>>& palette) {
  std::vector<uint8_t> png = png_of(indices, w, h, 1);
  png[25] = 3;
  std::vector<uint8_t> plte(12 + 3 * palette.size(), 0);
  put_be32(plte, 0, uint32_t(3 * palette.size()));
  plte[4] = 'P', plte[5] = 'L', plte[6] = 'T', plte[7] = 'E';
  for (size_t k = 0; k < palette.size(); ++k) {
    for (size_t c = 0; c < 3; ++c) plte[8 + 3 * k + c] = palette[k][c];
  }
  png.insert(png.begin() + 33, plte.begin(), plte.end());  // after the signature and IHDR's 25 bytes
  return png;
}

std::string decode_error(const std::vector<uint8_t>& bytes) {
  return error_of([&] { decode_image(bytes.data(), bytes.size(), "x.png"); });
}

}  // namespace

TEST_CASE("PNG: a palette image decodes through its palette; an index beyond it is refused") {
  // 16 x 6 indices in a pattern that makes the writer choose several row filters, all below 5.
  const int w = 16, h = 6;
  std::vector<uint8_t> indices(size_t(w * h));
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) indices[size_t(y * w + x)] = uint8_t((x * (y + 1) + y) % 5);
  }
  const std::vector<std::array<uint8_t, 3>> palette = {
      {10, 20, 30}, {40, 50, 60}, {70, 80, 90}, {100, 110, 120}, {130, 140, 150}};
  const std::vector<uint8_t> good = palette_png(indices, w, h, palette);
  const Image img = decode_image(good.data(), good.size(), "x.png");
  REQUIRE(img.h == h);
  REQUIRE(img.w == w);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      CAPTURE(y);
      CAPTURE(x);
      CHECK(img(y, x, 1) == palette[indices[size_t(y * w + x)]][1]);
    }
  }

  // The same indices with one of them 5, one beyond the palette, in the fifth row.
  indices[size_t(4 * w + 9)] = 5;
  CHECK(contains(
      decode_error(palette_png(indices, w, h, palette)),
      "expected palette indices below the 5 colours of the PNG's palette, found 5 in row 4, column 9"));
}

TEST_CASE("PNG: image data that inflates far beyond the header is refused before it is inflated") {
  // 512 x 512 grey zeros (262,656 bytes of rows) compress to a few hundred bytes; a header then declaring
  // 1 x 1 pixels (2 bytes of rows) makes them a small file that would inflate to 128 thousand times its
  // image.
  const std::vector<uint8_t> zeros(512 * 512, 0);
  std::vector<uint8_t> bomb = png_of(zeros, 512, 512, 1);
  CHECK(decode_image(bomb.data(), bomb.size(), "x.png").w == 512);  // as written, it decodes
  put_be32(bomb, 16, 1);                                            // IHDR's width
  put_be32(bomb, 20, 1);                                            // and height
  CHECK(
      contains(decode_error(bomb),
               "the PNG's image data does not inflate to the 2 bytes its header declares (it is corrupt, or "
               "holds more than 1026 bytes)"));

  // Too little data for the header's pixels: 512 x 512 declared 512 x 600.
  std::vector<uint8_t> short_data = png_of(zeros, 512, 512, 1);
  put_be32(short_data, 20, 600);
  CHECK(contains(decode_error(short_data),
                 "the PNG's image data inflates to 262656 bytes; its header declares 307800"));
}
