// Image: the one picture type of the data layer, 8-bit pixels in HWC order (row by row, the channels of a
// pixel side by side), as image files and dataset binaries store them. Transforms take and return Images;
// only the loader turns them into float tensors.
#pragma once

#include <cstdint>
#include <vector>

#include "core/error.h"

namespace ssl::data {

struct Image {
  int64_t h = 0, w = 0, c = 0;
  std::vector<uint8_t> pixels;  // h * w * c bytes, HWC

  Image() = default;
  Image(int64_t h_, int64_t w_, int64_t c_, uint8_t fill = 0)
      : h(h_), w(w_), c(c_), pixels(size_t(checked_size(h_, w_, c_)), fill) {}

  int64_t numel() const { return h * w * c; }
  bool empty() const { return pixels.empty(); }
  // Offset of (y, x, ch) in `pixels`; no bounds check (hot loops), see at() for the checked access.
  int64_t index(int64_t y, int64_t x, int64_t ch) const { return (y * w + x) * c + ch; }
  uint8_t& operator()(int64_t y, int64_t x, int64_t ch) { return pixels[size_t(index(y, x, ch))]; }
  uint8_t operator()(int64_t y, int64_t x, int64_t ch) const { return pixels[size_t(index(y, x, ch))]; }
  uint8_t& at(int64_t y, int64_t x, int64_t ch) {
    check(y, x, ch);
    return (*this)(y, x, ch);
  }
  uint8_t at(int64_t y, int64_t x, int64_t ch) const {
    check(y, x, ch);
    return (*this)(y, x, ch);
  }
  bool same_shape(const Image& o) const { return h == o.h && w == o.w && c == o.c; }
  bool operator==(const Image&) const = default;

 private:
  static int64_t checked_size(int64_t h, int64_t w, int64_t c) {
    SSL_CHECK(h >= 0 && w >= 0 && c >= 0, "Image: negative size ", h, "x", w, "x", c);
    int64_t size = 0;
    SSL_CHECK(!__builtin_mul_overflow(h, w, &size) && !__builtin_mul_overflow(size, c, &size), "Image: ", h,
              "x", w, "x", c, " has more than 2^63 - 1 bytes");
    return size;
  }
  void check(int64_t y, int64_t x, int64_t ch) const {
    SSL_CHECK(y >= 0 && y < h && x >= 0 && x < w && ch >= 0 && ch < c, "Image::at: (", y, ", ", x, ", ", ch,
              ") is outside an image of ", h, "x", w, "x", c);
  }
};

}  // namespace ssl::data
