// Depthwise convolution _v3: vectorised across channels, for small planes.
//
// On a 4x4 or 2x2 plane, _v2's loops along an output row have 4 or 2 iterations: the per-plane setup and the
// short loops cost more than the 9 multiply-adds per output. _v3 turns the layout around for a group of
// kLanes adjacent channels of one image: the group's planes are transposed into a zero-padded channels-last
// tile xt[hp][wp][kLanes], so every tap of every output is one multiply-add on kLanes channels at once, with
// contiguous loads and no bounds tests; the result tile is transposed back to NCHW. The transposes touch each
// value once, which for planes this small is cheaper than the arithmetic they vectorise.
//
// Backward works on the same tiles: gy transposed to gyt[oh][ow][kLanes], the weight gradient accumulated in
// gwt[kh*kw][kLanes], the input gradient scattered into a padded tile and its interior transposed back. Each
// thread owns whole channel groups and walks the images in order, so gw and gb do not depend on the thread
// count.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/plane_moments.h"
#include "kernels/depthwise.h"

namespace ssl::kernels::cpu {
namespace {

constexpr int64_t kLanes = 16;  // one AVX-512 register of floats

struct Tile {
  int64_t h, w, oh, ow, kh, kw, sh, sw, ph, pw, hp, wp;
  explicit Tile(const Conv2dShape& s)
      : h(s.h),
        w(s.w),
        oh(s.out_h()),
        ow(s.out_w()),
        kh(s.kh),
        kw(s.kw),
        sh(s.stride_h),
        sw(s.stride_w),
        ph(s.pad_h),
        pw(s.pad_w),
        hp(s.h + 2 * s.pad_h),
        wp(s.w + 2 * s.pad_w) {}
};

// Channels c0 .. c0 + lanes of image plane block `planes` ([C][plane]) into the interior of the padded tile
// t[hp][wp][kLanes] (its border and unused lanes stay as they are: zero).
template <class T>
void to_padded_tile(const Tile& g, const T* planes, int64_t lanes, T* t) {
  for (int64_t l = 0; l < lanes; ++l) {
    const T* p = planes + l * g.h * g.w;
    for (int64_t iy = 0; iy < g.h; ++iy)
      for (int64_t ix = 0; ix < g.w; ++ix)
        t[((iy + g.ph) * g.wp + ix + g.pw) * kLanes + l] = p[iy * g.w + ix];
  }
}

// The weights of channels c0 .. c0 + lanes as wt[kh*kw][kLanes] (unused lanes zero).
template <class T>
void transposed_weights(const Tile& g, const T* w, int64_t lanes, T* wt) {
  const int64_t k = g.kh * g.kw;
  std::fill(wt, wt + k * kLanes, T(0));
  for (int64_t l = 0; l < lanes; ++l)
    for (int64_t t = 0; t < k; ++t) wt[t * kLanes + l] = w[l * k + t];
}

template <class T>
void forward_v3(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y, double* moments) {
  const Tile g(s);
  const int64_t C = s.c_in, groups = (C + kLanes - 1) / kLanes, k = g.kh * g.kw;
  const int64_t in_plane = g.h * g.w, out_plane = g.oh * g.ow;
#pragma omp parallel
  {
    std::vector<T> xt(g.hp * g.wp * kLanes), yt(out_plane * kLanes), wt(k * kLanes), bt(kLanes);
#pragma omp for schedule(static)
    for (int64_t task = 0; task < s.n * groups; ++task) {
      const int64_t b = task / groups, c0 = (task % groups) * kLanes, lanes = std::min(kLanes, C - c0);
      transposed_weights(g, w + c0 * k, lanes, wt.data());
      std::fill(bt.begin(), bt.end(), T(0));
      if (bias) std::copy(bias + c0, bias + c0 + lanes, bt.begin());
      std::fill(xt.begin(), xt.end(), T(0));
      to_padded_tile(g, x + (b * C + c0) * in_plane, lanes, xt.data());
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          T acc[kLanes];
#pragma omp simd
          for (int64_t l = 0; l < kLanes; ++l) acc[l] = bt[l];
          for (int64_t i = 0; i < g.kh; ++i)
            for (int64_t j = 0; j < g.kw; ++j) {
              const T* xv = xt.data() + ((oy * g.sh + i) * g.wp + ox * g.sw + j) * kLanes;
              const T* wv = wt.data() + (i * g.kw + j) * kLanes;
#pragma omp simd
              for (int64_t l = 0; l < kLanes; ++l) acc[l] += wv[l] * xv[l];
            }
          std::copy(acc, acc + kLanes, yt.data() + (oy * g.ow + ox) * kLanes);
        }
      T* yb = y + (b * C + c0) * out_plane;
      for (int64_t l = 0; l < lanes; ++l)
        for (int64_t q = 0; q < out_plane; ++q) yb[l * out_plane + q] = yt[q * kLanes + l];
      if (moments)  // the planes just written, still in L1
        for (int64_t l = 0; l < lanes; ++l) {
          const int64_t p = b * C + c0 + l;
          plane_moments(yb + l * out_plane, out_plane, moments + p, moments + s.n * C + p);
        }
    }
  }
}

template <class T>
void backward_v3(const Conv2dShape& s, const T* x, const T* w, const T* gy, T* gx, T* gw, T* gb) {
  const Tile g(s);
  const int64_t C = s.c_in, groups = (C + kLanes - 1) / kLanes, k = g.kh * g.kw;
  const int64_t in_plane = g.h * g.w, out_plane = g.oh * g.ow;
#pragma omp parallel
  {
    std::vector<T> xt(g.hp * g.wp * kLanes), gxt(g.hp * g.wp * kLanes), gyt(out_plane * kLanes);
    std::vector<T> wt(k * kLanes), gwt(k * kLanes), gbt(kLanes);
    // Whole channel groups per thread (static schedule), each walking the images in order.
#pragma omp for schedule(static)
    for (int64_t group = 0; group < groups; ++group) {
      const int64_t c0 = group * kLanes, lanes = std::min(kLanes, C - c0);
      if (gx) transposed_weights(g, w + c0 * k, lanes, wt.data());
      std::fill(gwt.begin(), gwt.end(), T(0));
      std::fill(gbt.begin(), gbt.end(), T(0));
      std::fill(xt.begin(), xt.end(), T(0));
      std::fill(gyt.begin(), gyt.end(), T(0));
      for (int64_t b = 0; b < s.n; ++b) {
        const T* gyb = gy + (b * C + c0) * out_plane;
        for (int64_t l = 0; l < lanes; ++l)
          for (int64_t q = 0; q < out_plane; ++q) gyt[q * kLanes + l] = gyb[l * out_plane + q];
        if (gb)
          for (int64_t q = 0; q < out_plane; ++q) {
#pragma omp simd
            for (int64_t l = 0; l < kLanes; ++l) gbt[l] += gyt[q * kLanes + l];
          }
        if (gw) to_padded_tile(g, x + (b * C + c0) * in_plane, lanes, xt.data());
        if (gx) std::fill(gxt.begin(), gxt.end(), T(0));
        for (int64_t oy = 0; oy < g.oh; ++oy)
          for (int64_t ox = 0; ox < g.ow; ++ox) {
            const T* gv = gyt.data() + (oy * g.ow + ox) * kLanes;
            for (int64_t i = 0; i < g.kh; ++i)
              for (int64_t j = 0; j < g.kw; ++j) {
                const int64_t at = ((oy * g.sh + i) * g.wp + ox * g.sw + j) * kLanes,
                              tap = (i * g.kw + j) * kLanes;
                if (gw) {
                  const T* xv = xt.data() + at;
#pragma omp simd
                  for (int64_t l = 0; l < kLanes; ++l) gwt[tap + l] += gv[l] * xv[l];
                }
                if (gx) {
                  T* gxv = gxt.data() + at;
#pragma omp simd
                  for (int64_t l = 0; l < kLanes; ++l) gxv[l] += wt[tap + l] * gv[l];
                }
              }
          }
        if (gx) {
          T* gxb = gx + (b * C + c0) * in_plane;
          for (int64_t l = 0; l < lanes; ++l)
            for (int64_t iy = 0; iy < g.h; ++iy)
              for (int64_t ix = 0; ix < g.w; ++ix)
                gxb[l * in_plane + iy * g.w + ix] = gxt[((iy + g.ph) * g.wp + ix + g.pw) * kLanes + l];
        }
      }
      for (int64_t l = 0; l < lanes; ++l) {
        if (gw)
          for (int64_t t = 0; t < k; ++t) gw[(c0 + l) * k + t] = gwt[t * kLanes + l];
        if (gb) gb[c0 + l] = gbt[l];
      }
    }
  }
}

}  // namespace

template <class T>
void depthwise_conv2d_forward_v3(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  check_conv2d_shape(s, "depthwise_conv2d_forward_v3");
  SSL_CHECK(s.is_depthwise(), "depthwise_conv2d_forward_v3: needs groups == c_in == c_out");
  SSL_CHECK(x && w && y, "depthwise_conv2d_forward_v3: x, w and y must not be null");
  forward_v3(s, x, w, bias, y, nullptr);
}

template <class T>
void depthwise_v3_forward_unchecked(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y,
                                    double* moments) {
  forward_v3(s, x, w, bias, y, moments);
}

template <class T>
void depthwise_conv2d_backward_v3(const Conv2dShape& s, const T* x, const T* w, const T* gy, T* gx, T* gw,
                                  T* gb) {
  check_conv2d_shape(s, "depthwise_conv2d_backward_v3");
  SSL_CHECK(s.is_depthwise(), "depthwise_conv2d_backward_v3: needs groups == c_in == c_out");
  SSL_CHECK(gy, "depthwise_conv2d_backward_v3: gy must not be null");
  SSL_CHECK(!gw || x, "depthwise_conv2d_backward_v3: x is needed for the weight gradient");
  SSL_CHECK(!gx || w, "depthwise_conv2d_backward_v3: w is needed for the input gradient");
  if (gx || gw || gb) backward_v3(s, x, w, gy, gx, gw, gb);
}

template void depthwise_conv2d_forward_v3<float>(const Conv2dShape&, const float*, const float*, const float*,
                                                 float*);
template void depthwise_conv2d_forward_v3<double>(const Conv2dShape&, const double*, const double*,
                                                  const double*, double*);
template void depthwise_v3_forward_unchecked<float>(const Conv2dShape&, const float*, const float*,
                                                    const float*, float*, double*);
template void depthwise_v3_forward_unchecked<double>(const Conv2dShape&, const double*, const double*,
                                                     const double*, double*, double*);
template void depthwise_conv2d_backward_v3<float>(const Conv2dShape&, const float*, const float*,
                                                  const float*, float*, float*, float*);
template void depthwise_conv2d_backward_v3<double>(const Conv2dShape&, const double*, const double*,
                                                   const double*, double*, double*, double*);

}  // namespace ssl::kernels::cpu
