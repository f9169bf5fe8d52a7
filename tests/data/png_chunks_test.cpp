// PNG files whose image data inflates far beyond their header, or whose palette indices lie beyond the
// palette: refused with what was expected (data/png_chunks.h), where stb_image would allocate what the data
// inflates to, or look the indices up in uninitialised memory. Valid palette images of every bit depth, with
// every row filter, interlaced or not, still decode to their palette's colours.
#include <doctest/doctest.h>
#include <stb_image_write.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "data/image_decode.h"
#include "data/png_chunks.h"
#include "file_test_util.h"

using namespace ssl;
using namespace ssl::data;
using ssl::test::contains;
using ssl::test::error_of;

namespace {

using Palette = std::vector<std::array<uint8_t, 3>>;

void put_be32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (size_t i = 0; i < 4; ++i) b[at + i] = uint8_t(v >> (24 - 8 * i));
}

// A chunk: its length, type, data and CRC.
void add_chunk(std::vector<uint8_t>& png, const char* type, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> head(8);
  put_be32(head, 0, uint32_t(data.size()));
  std::copy(type, type + 4, head.begin() + 4);
  const size_t at = png.size();
  png.insert(png.end(), head.begin(), head.end());
  png.insert(png.end(), data.begin(), data.end());
  png.resize(png.size() + 4);
  put_be32(png, png.size() - 4, png_crc32(png.data() + at + 4, data.size() + 4));
}

// The size a PNG's header (IHDR, the first chunk) declares, set to w x h, with the header's CRC to match.
void declare_size(std::vector<uint8_t>& png, uint32_t w, uint32_t h) {
  put_be32(png, 16, w);
  put_be32(png, 20, h);
  rewrite_png_crcs(png.data(), png.size());
}

// `data` as a zlib stream of stored (uncompressed) deflate blocks, with its Adler-32.
std::vector<uint8_t> zlib_stored(const std::vector<uint8_t>& data) {
  std::vector<uint8_t> z = {0x78, 0x01};
  size_t at = 0;
  do {
    const size_t n = std::min<size_t>(65535, data.size() - at);
    z.push_back(at + n == data.size() ? 1 : 0);  // the last block's flag; type 0, stored
    for (const size_t v : {n, n ^ 0xFFFF}) z.push_back(uint8_t(v)), z.push_back(uint8_t(v >> 8));
    z.insert(z.end(), data.begin() + long(at), data.begin() + long(at + n));
    at += n;
  } while (at < data.size());
  uint32_t a = 1, b = 0;
  for (const uint8_t v : data) a = (a + v) % 65521, b = (b + a) % 65521;
  for (int shift = 24; shift >= 0; shift -= 8) z.push_back(uint8_t(((b << 16) | a) >> shift));
  return z;
}

int paeth(int a, int b, int c) {
  const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

// A palette PNG of the w x h `indices` (row by row) at `depth` bits a pixel, Adam7-interlaced or not, each
// pass's rows filtered with types 0, 1, 2, 3, 4 in turn, so that every filter is undone by the check.
std::vector<uint8_t> palette_png(const std::vector<int>& indices, int w, int h, int depth, bool interlaced,
                                 const Palette& palette) {
  struct Pass {
    int x0, y0, dx, dy;
  };
  const std::vector<Pass> passes =
      interlaced ? std::vector<Pass>{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4},
                                     {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}
                 : std::vector<Pass>{{0, 0, 1, 1}};
  std::vector<uint8_t> rows;
  for (const Pass& p : passes) {
    const int pw = w > p.x0 ? (w - p.x0 + p.dx - 1) / p.dx : 0,
              ph = h > p.y0 ? (h - p.y0 + p.dy - 1) / p.dy : 0;
    if (pw == 0 || ph == 0) continue;
    const size_t bytes = size_t((pw * depth + 7) / 8);
    std::vector<uint8_t> up(bytes, 0);
    for (int j = 0; j < ph; ++j) {
      std::vector<uint8_t> raw(bytes, 0);
      for (int i = 0; i < pw; ++i) {
        const int index = indices[size_t((p.y0 + j * p.dy) * w + p.x0 + i * p.dx)];
        raw[size_t(i * depth / 8)] |= uint8_t(index << (8 - depth - i * depth % 8));
      }
      const int filter = j % 5;
      rows.push_back(uint8_t(filter));
      for (size_t k = 0; k < bytes; ++k) {
        const int left = k > 0 ? raw[k - 1] : 0, corner = k > 0 ? up[k - 1] : 0;
        const int predicted = filter == 0   ? 0
                              : filter == 1 ? left
                              : filter == 2 ? up[k]
                              : filter == 3 ? (left + up[k]) / 2
                                            : paeth(left, up[k], corner);
        rows.push_back(uint8_t(raw[k] - predicted));
      }
      up = raw;
    }
  }
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<uint8_t> header(13, 0);
  put_be32(header, 0, uint32_t(w));
  put_be32(header, 4, uint32_t(h));
  header[8] = uint8_t(depth), header[9] = 3, header[12] = interlaced ? 1 : 0;
  add_chunk(png, "IHDR", header);
  std::vector<uint8_t> plte;
  for (const auto& colour : palette) plte.insert(plte.end(), colour.begin(), colour.end());
  add_chunk(png, "PLTE", plte);
  add_chunk(png, "IDAT", zlib_stored(rows));
  add_chunk(png, "IEND", {});
  return png;
}

// A w x h image of `channels` 8-bit channels as stb_image_write writes a PNG (IHDR's width and height at
// bytes 16 and 20).
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

std::string png_decode_error(const std::vector<uint8_t>& bytes) {
  return error_of([&] { decode_image(bytes.data(), bytes.size(), "x.png"); });
}

}  // namespace

TEST_CASE(
    "PNG: palette images of every depth and filter decode through their palette; an index beyond it is "
    "refused") {
  for (const int depth : {1, 2, 4, 8}) {
    for (const bool interlaced : {false, true}) {
      // 13 x 11 pixels: rows ending inside a byte; 3 x 3 interlaced: some of Adam7's passes empty.
      for (const auto& [w, h] : {std::pair{13, 11}, std::pair{3, 3}}) {
        CAPTURE(depth);
        CAPTURE(interlaced);
        CAPTURE(w);
        // Fewer colours than the depth can name, so that the next index is one beyond the palette.
        const int colours = depth == 1 ? 1 : depth == 2 ? 3 : 5;
        Palette palette;
        for (int k = 0; k < colours; ++k)
          palette.push_back({uint8_t(40 * k + 10), uint8_t(200 - 30 * k), uint8_t(7 * k)});
        std::vector<int> indices(size_t(w * h));
        for (int y = 0; y < h; ++y) {
          for (int x = 0; x < w; ++x) indices[size_t(y * w + x)] = (x * (y + 2) + 3 * y) % colours;
        }
        const std::vector<uint8_t> good = palette_png(indices, w, h, depth, interlaced, palette);
        const Image img = decode_image(good.data(), good.size(), "x.png");
        REQUIRE(img.h == h);
        REQUIRE(img.w == w);
        int wrong = 0;
        for (int y = 0; y < h; ++y) {
          for (int x = 0; x < w; ++x) {
            for (int c = 0; c < 3; ++c)
              wrong += img(y, x, c) != palette[size_t(indices[size_t(y * w + x)])][size_t(c)];
          }
        }
        CHECK(wrong == 0);

        // Pixel (1, 1): row 1 of the image, or row 0 of Adam7's seventh pass (odd rows, every column).
        indices[size_t(w + 1)] = colours;
        const std::string where =
            interlaced ? "in row 0, column 1 of interlaced pass 7" : "in row 1, column 1";
        CHECK(contains(png_decode_error(palette_png(indices, w, h, depth, interlaced, palette)),
                       "expected palette indices below the " + std::to_string(colours) +
                           " colours of the PNG's palette, found " + std::to_string(colours) + " " + where));
      }
    }
  }
}

TEST_CASE(
    "PNG: image data inflating far beyond its header is refused; a little beyond is accepted, as by "
    "stb_image") {
  // 4096 x 4096 grey zeros (16,781,312 bytes of rows) compress to some 160 KB; a header then declaring 1 x 1
  // pixels (2 bytes of rows) makes them a file that inflates to 8 million times its image. The decoder
  // accepts data after the pixels, so the check allows 16 MB (16,777,216 bytes) of it, and no more.
  std::vector<uint8_t> bomb = png_of(std::vector<uint8_t>(4096 * 4096, 0), 4096, 4096, 1);
  CHECK(bomb.size() < 200000);
  declare_size(bomb, 1, 1);
  CHECK(
      contains(png_decode_error(bomb),
               "the PNG's image data cannot be inflated within 16777218 bytes, the 2 its header declares and "
               "16777216 more"));
  // 128 x 128 pixels of noise: too much data to skip the inflating (data short enough that it cannot pass the
  // limit is left to the decoder, unless it has a palette).
  std::vector<uint8_t> noise(128 * 128 * 3);
  uint32_t state = 1;
  for (uint8_t& v : noise) v = uint8_t((state = state * 1664525u + 1013904223u) >> 24);
  std::vector<uint8_t> short_data = png_of(noise, 128, 128, 3);
  // Data after the pixels, well within the limit, is accepted, as the decoder accepts it: declared 128 x 100.
  declare_size(short_data, 128, 100);
  CHECK(decode_image(short_data.data(), short_data.size(), "x.png").h == 100);
  // Too little data for the header's pixels: declared 128 x 200.
  declare_size(short_data, 128, 200);
  CHECK(contains(png_decode_error(short_data),
                 "the PNG's image data inflates to 49280 bytes; its header declares 77000"));
  // Far too little for the header's pixels, declared 8192 x 8192: refused before the decoder reserves the
  // 201 MB they need.
  declare_size(short_data, 8192, 8192);
  const std::string truncated = png_decode_error(short_data);
  CHECK(contains(truncated,
                 " bytes of image data, too few to inflate to the 201334784 its header declares (at "
                 "least 194903 are needed)"));
  declare_size(short_data, 128, 128);
  CHECK(decode_image(short_data.data(), short_data.size(), "x.png").h == 128);
}

TEST_CASE("PNG: a chunk whose CRC differs from its bytes is refused, as is a CRC cut off") {
  // The CRC of an IEND chunk (no data) is the one every PNG ends with.
  const uint8_t iend[4] = {'I', 'E', 'N', 'D'};
  CHECK(png_crc32(iend, 4) == 0xAE426082u);
  const std::string check = "123456789";  // CRC-32's published check value
  CHECK(png_crc32(reinterpret_cast<const uint8_t*>(check.data()), check.size()) == 0xCBF43926u);
  std::vector<uint8_t> noise(16 * 16 * 3);
  uint32_t state = 7;
  for (uint8_t& v : noise) v = uint8_t((state = state * 1664525u + 1013904223u) >> 24);
  const std::vector<uint8_t> good = png_of(noise, 16, 16, 3);
  REQUIRE(decode_image(good.data(), good.size(), "x.png").h == 16);
  // stb_image_write stores noise in stored deflate blocks: a byte flipped among them would decode to another
  // pixel without any other check noticing. IHDR is 25 bytes from byte 8, so byte 100 lies in the IDAT chunk
  // at byte 33.
  std::vector<uint8_t> flipped = good;
  flipped[100] ^= 0x10;
  CHECK(contains(png_decode_error(flipped), "the PNG chunk at byte 33 (IDAT, "));
  CHECK(contains(png_decode_error(flipped), " has the CRC 0x"));
  rewrite_png_crcs(flipped.data(), flipped.size());
  CHECK(decode_image(flipped.data(), flipped.size(), "x.png").h == 16);  // the same bytes, a CRC to match
  // Cut inside the last chunk's CRC.
  const std::vector<uint8_t> cut(good.begin(), good.end() - 2);
  CHECK(contains(png_decode_error(cut), "the PNG ends inside the CRC of its chunk at byte " +
                                            std::to_string(good.size() - 12) + " (IEND)"));
}
