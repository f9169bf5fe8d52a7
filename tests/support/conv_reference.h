// References for the convolution kernels' tests, written loop by loop from the definitions: the element
// counts of a convolution's tensors, the convolution itself (groups, and so depthwise, included) and the
// per-plane moments a forward pass records for batch norm.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/conv.h"

namespace ssl::test {

// For a Conv2dShape or a ConvTranspose2dShape. Either weight layout (c_out x c_in/groups, or c_in x
// c_out/groups, filters of kh x kw) holds c_in·c_out/groups filters.
template <class ConvShape>
int64_t x_count(const ConvShape& s) {
  return s.n * s.c_in * s.h * s.w;
}
template <class ConvShape>
int64_t w_count(const ConvShape& s) {
  return s.c_in * (s.c_out / s.groups) * s.kh * s.kw;
}
template <class ConvShape>
int64_t y_count(const ConvShape& s) {
  return s.n * s.c_out * s.out_h() * s.out_w();
}

// The definition, loop by loop. b may be empty (no bias).
inline std::vector<double> conv_reference(const kernels::Conv2dShape& s, const std::vector<double>& x,
                                          const std::vector<double>& w, const std::vector<double>& b) {
  const int64_t oh = s.out_h(), ow = s.out_w(), cg_in = s.c_in / s.groups, cg_out = s.c_out / s.groups;
  std::vector<double> y(y_count(s));
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t co = 0; co < s.c_out; ++co) {
      const int64_t g = co / cg_out;
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          double acc = b.empty() ? 0.0 : b[co];
          for (int64_t ci = 0; ci < cg_in; ++ci)
            for (int64_t i = 0; i < s.kh; ++i)
              for (int64_t j = 0; j < s.kw; ++j) {
                const int64_t iy = oy * s.stride_h - s.pad_h + i, ix = ox * s.stride_w - s.pad_w + j;
                if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
                acc += x[((n * s.c_in + g * cg_in + ci) * s.h + iy) * s.w + ix] *
                       w[((co * cg_in + ci) * s.kh + i) * s.kw + j];
              }
          y[((n * s.c_out + co) * oh + oy) * ow + ox] = acc;
        }
    }
  return y;
}

// Each plane's mean, then each plane's Σ (y - mean)², in long double: what the kernels record given moments.
template <class T>
std::vector<double> moments_reference(const std::vector<T>& y, int64_t planes, int64_t hw) {
  std::vector<double> m(2 * planes);
  for (int64_t p = 0; p < planes; ++p) {
    long double sum = 0, sq = 0;
    for (int64_t q = 0; q < hw; ++q) sum += y[p * hw + q];
    const long double mean = sum / hw;
    for (int64_t q = 0; q < hw; ++q) sq += (y[p * hw + q] - mean) * (y[p * hw + q] - mean);
    m[p] = double(mean);
    m[planes + p] = double(sq);
  }
  return m;
}

}  // namespace ssl::test
