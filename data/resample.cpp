#include "data/resample.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"

namespace ssl::data {
namespace {

// For every output position along one axis: the first source pixel it reads and its normalised weights.
struct AxisTaps {
  int64_t taps = 0;            // weights per output position (some may be 0)
  std::vector<int64_t> first;  // [out] first source index
  std::vector<float> weight;   // [out * taps]
};

AxisTaps axis_taps(int64_t in_size, double box0, double box_len, int64_t out_size) {
  const double scale = box_len / double(out_size);  // source pixels per output pixel
  const double support = std::max(1.0, scale);      // half-width of the triangle, in source pixels
  AxisTaps a;
  a.taps = int64_t(std::ceil(support)) * 2 + 1;
  a.first.resize(size_t(out_size));
  a.weight.assign(size_t(out_size * a.taps), 0.f);
  for (int64_t o = 0; o < out_size; ++o) {
    const double centre = box0 + (double(o) + 0.5) * scale;  // in source coordinates, pixel i spans [i, i+1)
    const int64_t lo = std::max<int64_t>(0, int64_t(std::floor(centre - support)));
    const int64_t hi = std::min<int64_t>(in_size, int64_t(std::ceil(centre + support)));
    a.first[size_t(o)] = lo;
    float* w = &a.weight[size_t(o * a.taps)];
    double sum = 0;
    for (int64_t i = lo; i < hi && i - lo < a.taps; ++i) {
      const double t = std::fabs((double(i) + 0.5 - centre) / support);
      w[i - lo] = float(std::max(0.0, 1.0 - t));
      sum += w[i - lo];
    }
    // Near the border part of the triangle falls outside the image; renormalising clamps the edge.
    for (int64_t k = 0; k < a.taps; ++k) w[k] = sum > 0 ? float(w[k] / sum) : 0.f;
  }
  return a;
}

}  // namespace

Image resample(const Image& in, double x0, double y0, double box_w, double box_h, int64_t out_h,
               int64_t out_w) {
  SSL_CHECK(!in.empty(), "resample: empty input image");
  SSL_CHECK(out_h > 0 && out_w > 0, "resample: output size must be positive, got ", out_h, "x", out_w);
  SSL_CHECK(box_w > 0 && box_h > 0 && x0 >= 0 && y0 >= 0 && x0 + box_w <= double(in.w) + 1e-9 &&
                y0 + box_h <= double(in.h) + 1e-9,
            "resample: box (x0 ", x0, ", y0 ", y0, ", w ", box_w, ", h ", box_h, ") is not inside a ", in.h,
            "x", in.w, " image");
  const int64_t c = in.c;
  const AxisTaps tx = axis_taps(in.w, x0, box_w, out_w);
  const AxisTaps ty = axis_taps(in.h, y0, box_h, out_h);

  // Horizontal pass over only the source rows the vertical pass reads.
  const int64_t row_lo = ty.first.front();
  const int64_t row_hi = std::min(in.h, ty.first.back() + ty.taps);
  std::vector<float> tmp(size_t((row_hi - row_lo) * out_w * c), 0.f);
  for (int64_t y = row_lo; y < row_hi; ++y) {
    const uint8_t* src = &in.pixels[size_t(in.index(y, 0, 0))];
    float* dst = &tmp[size_t((y - row_lo) * out_w * c)];
    for (int64_t ox = 0; ox < out_w; ++ox) {
      const int64_t first = tx.first[size_t(ox)];
      const float* w = &tx.weight[size_t(ox * tx.taps)];
      const int64_t n = std::min(tx.taps, in.w - first);
      for (int64_t k = 0; k < n; ++k) {
        if (w[k] == 0.f) continue;
        for (int64_t ch = 0; ch < c; ++ch) dst[ox * c + ch] += w[k] * float(src[(first + k) * c + ch]);
      }
    }
  }

  Image out(out_h, out_w, c);
  std::vector<float> acc(size_t(out_w * c));
  for (int64_t oy = 0; oy < out_h; ++oy) {
    std::fill(acc.begin(), acc.end(), 0.f);
    const int64_t first = ty.first[size_t(oy)];
    const float* w = &ty.weight[size_t(oy * ty.taps)];
    const int64_t n = std::min(ty.taps, in.h - first);
    for (int64_t k = 0; k < n; ++k) {
      if (w[k] == 0.f) continue;
      const float* row = &tmp[size_t((first + k - row_lo) * out_w * c)];
      for (int64_t j = 0; j < out_w * c; ++j) acc[size_t(j)] += w[k] * row[j];
    }
    uint8_t* dst = &out.pixels[size_t(out.index(oy, 0, 0))];
    for (int64_t j = 0; j < out_w * c; ++j) dst[j] = uint8_t(std::clamp(acc[size_t(j)] + 0.5f, 0.f, 255.f));
  }
  return out;
}

Image flip_horizontal(const Image& in) {
  Image out(in.h, in.w, in.c);
  for (int64_t y = 0; y < in.h; ++y) {
    for (int64_t x = 0; x < in.w; ++x) {
      for (int64_t ch = 0; ch < in.c; ++ch) out(y, x, ch) = in(y, in.w - 1 - x, ch);
    }
  }
  return out;
}

}  // namespace ssl::data
