// CPU depthwise convolution: direct loops, no im2col (see kernels/depthwise.h for the versions).
//
// Bounds: tap i of the filter reads input row oy*sh - ph + i, inside the image for oy in
// [row_lo[i], row_hi[i]); tap j likewise for output columns [col_lo[j], col_hi[j]). v2's generic instance
// computes these once per call, so each tap becomes one test-free loop over a contiguous range of outputs.
// The 3x3 stride 1 / stride 2 instances instead copy each plane into a zero-padded scratch plane (in L1) and
// run one unrolled loop per output row: measured faster at every MobileNet width (see forward_plane).
//
// Measured (throwaway program; float32, MobileNetV1@32's 13 depthwise layers at batch 128, weighted by
// count; forward, then backward with gx and gw; min of 9 on a 2-core machine shared at load ~4, so the
// ratios matter more than the times):
//   1 thread:  im2col+GEMM 75.6 + 224.0 ms, v1 279.7 + 298.8 ms, v2 31.7 + 85.8 ms: v2 is 2.55x the generic
//              path (forward 2.4x, backward 2.6x) and 4.9x v1; compulsory traffic (x, y; x, gy, gx) 1.8
//              -> 4.6 GB/s.
//   2 threads: generic 104 + 270 ms, v2 29 + 72 ms: 3.7x, 5.4 GB/s.
// Largest remaining gaps: the stride-2 backward (the 64-channel 32x32 layer: gx 9-13 ms, gw 13 ms, against
// 3-5 ms for the stride-1 32x32 layer of the same bytes), and planes of 4x4 and below, where per-plane
// overhead dominates.
#include "kernels/depthwise.h"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/plane_moments.h"

namespace ssl::kernels::cpu {
namespace {

// The shape checks every convolution makes, then the depthwise condition.
void check_shape(const Conv2dShape& s, const char* fn) {
  check_conv2d_shape(s, fn);
  SSL_CHECK(s.is_depthwise(), fn, ": needs groups == c_in == c_out, got c_in=", s.c_in, " c_out=", s.c_out,
            " groups=", s.groups);
}

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

// One plane's sizes and the output range each tap reaches inside the image.
struct Plane {
  int64_t h, w, oh, ow, kh, kw, sh, sw, ph, pw;
  std::vector<int64_t> row_lo, row_hi, col_lo, col_hi;

  Plane(int64_t h_, int64_t w_, int64_t kh_, int64_t kw_, int64_t sh_, int64_t sw_, int64_t ph_, int64_t pw_)
      : h(h_), w(w_), kh(kh_), kw(kw_), sh(sh_), sw(sw_), ph(ph_), pw(pw_) {
    oh = window_count(h + 2 * ph, kh, sh);
    ow = window_count(w + 2 * pw, kw, sw);
    // 0 <= o*stride - pad + tap < size  <=>  ceil((pad - tap)/stride) <= o <= floor((size - 1 + pad -
    // tap)/stride)
    for (int64_t i = 0; i < kh; ++i) {
      row_lo.push_back(std::max<int64_t>(0, ceil_div(ph - i, sh)));
      row_hi.push_back(std::min<int64_t>(oh, floor_div(h - 1 + ph - i, sh) + 1));
    }
    for (int64_t j = 0; j < kw; ++j) {
      col_lo.push_back(std::max<int64_t>(0, ceil_div(pw - j, sw)));
      col_hi.push_back(std::min<int64_t>(ow, floor_div(w - 1 + pw - j, sw) + 1));
    }
  }
  explicit Plane(const Conv2dShape& s)
      : Plane(s.h, s.w, s.kh, s.kw, s.stride_h, s.stride_w, s.pad_h, s.pad_w) {}
};

// ---- v1: naive ------------------------------------------------------------------------------------------

template <class T>
void forward_v1(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  const int64_t oh = s.out_h(), ow = s.out_w(), planes = s.n * s.c_in;
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < planes; ++p) {
    const int64_t c = p % s.c_in;
    const T* xp = x + p * s.h * s.w;
    const T* wc = w + c * s.kh * s.kw;
    T* yp = y + p * oh * ow;
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        T acc = bias ? bias[c] : T(0);
        for (int64_t i = 0; i < s.kh; ++i)
          for (int64_t j = 0; j < s.kw; ++j) {
            const int64_t iy = oy * s.stride_h - s.pad_h + i, ix = ox * s.stride_w - s.pad_w + j;
            if (iy >= 0 && iy < s.h && ix >= 0 && ix < s.w) acc += wc[i * s.kw + j] * xp[iy * s.w + ix];
          }
        yp[oy * ow + ox] = acc;
      }
  }
}

// d y: gx[iy][ix] += w[i][j] gy[oy][ox], gw[i][j] += x[iy][ix] gy[oy][ox], gb += gy[oy][ox]
template <class T>
void backward_v1(const Conv2dShape& s, const T* x, const T* w, const T* gy, T* gx, T* gw, T* gb) {
  const int64_t oh = s.out_h(), ow = s.out_w(), C = s.c_in, k = s.kh * s.kw;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; ++c) {
    if (gw) std::fill(gw + c * k, gw + (c + 1) * k, T(0));
    if (gb) gb[c] = 0;
    for (int64_t b = 0; b < s.n; ++b) {
      const int64_t p = b * C + c;
      const T* gyp = gy + p * oh * ow;
      T* gxp = gx ? gx + p * s.h * s.w : nullptr;
      if (gxp) std::fill(gxp, gxp + s.h * s.w, T(0));
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          const T g = gyp[oy * ow + ox];
          if (gb) gb[c] += g;
          for (int64_t i = 0; i < s.kh; ++i)
            for (int64_t j = 0; j < s.kw; ++j) {
              const int64_t iy = oy * s.stride_h - s.pad_h + i, ix = ox * s.stride_w - s.pad_w + j;
              if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
              if (gxp) gxp[iy * s.w + ix] += w[c * k + i * s.kw + j] * g;
              if (gw) gw[c * k + i * s.kw + j] += x[p * s.h * s.w + iy * s.w + ix] * g;
            }
        }
    }
  }
}

// ---- v2: bounds hoisted, 3x3 s1/s2 unrolled -------------------------------------------------------------

// One output plane. K, S: compile-time kernel size and stride (both directions), or 0 for the runtime ones.
//
// The unrolled instances (K != 0) copy the plane into a zero-padded scratch plane and run one loop per output
// row with all K*K taps in registers, no bounds at all. Measured against splitting each row into border
// columns (bounds tested) and an unrolled interior, the copy wins at every MobileNet width: 1 thread,
// b128 3x3 s1, forward 32x32 5.0 -> 2.9-3.9 ms, 16x16 12 -> 4.3 ms; at 8x8 and below the split was 4x
// slower still (mostly border). The generic instance keeps the hoisted per-tap ranges.
template <class T, int K, int S>
void forward_plane(const Plane& g, const T* x, const T* w, T b, T* y) {
  const int64_t sh = S ? S : g.sh, sw = S ? S : g.sw;
  if constexpr (K != 0) {
    const int64_t hp = g.h + 2 * g.ph, wp = g.w + 2 * g.pw;
    thread_local std::vector<T> pad;
    pad.assign(hp * wp, T(0));
    for (int64_t iy = 0; iy < g.h; ++iy)
      std::copy(x + iy * g.w, x + (iy + 1) * g.w, pad.data() + (iy + g.ph) * wp + g.pw);
    for (int64_t oy = 0; oy < g.oh; ++oy) {
      const T* xr = pad.data() + oy * sh * wp;
#pragma omp simd
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        T acc = b;
        for (int i = 0; i < K; ++i)
          for (int j = 0; j < K; ++j) acc += w[i * K + j] * xr[i * wp + ox * sw + j];
        y[oy * g.ow + ox] = acc;
      }
    }
  } else {
    // Any kernel: per output row, one test-free loop per tap over the outputs it reaches.
    const int64_t kh = g.kh, kw = g.kw;
    for (int64_t oy = 0; oy < g.oh; ++oy) {
      T* yr = y + oy * g.ow;
      for (int64_t ox = 0; ox < g.ow; ++ox) yr[ox] = b;
      for (int64_t i = 0; i < kh; ++i) {
        if (oy < g.row_lo[i] || oy >= g.row_hi[i]) continue;
        const T* xr = x + (oy * sh - g.ph + i) * g.w;
        for (int64_t j = 0; j < kw; ++j) {
          const T wij = w[i * kw + j];
          const int64_t lo = g.col_lo[j], hi = g.col_hi[j], off = j - g.pw;
#pragma omp simd
          for (int64_t ox = lo; ox < hi; ++ox) yr[ox] += wij * xr[ox * sw + off];
        }
      }
    }
  }
}

// Runs f.template operator()<K, S>() with the fast instance for s, or <0, 0>.
template <class F>
void dispatch_kernel(const Conv2dShape& s, F&& f) {
  if (s.kh == 3 && s.kw == 3 && s.stride_h == 1 && s.stride_w == 1)
    f.template operator()<3, 1>();
  else if (s.kh == 3 && s.kw == 3 && s.stride_h == 2 && s.stride_w == 2)
    f.template operator()<3, 2>();
  else
    f.template operator()<0, 0>();
}

// With `moments` (means [n*c], then M2 [n*c]), each plane's moments are taken right after the plane is
// written, while it is in L1.
template <class T>
void forward_v2(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y,
                double* moments = nullptr) {
  const Plane g(s);
  const int64_t planes = s.n * s.c_in, k = s.kh * s.kw, out_plane = g.oh * g.ow;
  dispatch_kernel(s, [&]<int K, int S>() {
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < planes; ++p) {
      const int64_t c = p % s.c_in;
      forward_plane<T, K, S>(g, x + p * g.h * g.w, w + c * k, bias ? bias[c] : T(0), y + p * out_plane);
      if (moments) plane_moments(y + p * out_plane, out_plane, moments + p, moments + planes + p);
    }
  });
}

// Adds the weight gradient of one plane to acc [kh*kw, ow]: per tap and output column, a running sum over
// rows (and, across calls, images), reduced over the columns only once per channel. A horizontal
// reduction per row and tap would cost more than the row's multiply-adds at these widths.
template <class T, int S>
void weight_grad_plane(const Plane& g, const T* x, const T* gy, T* acc) {
  const int64_t sh = S ? S : g.sh, sw = S ? S : g.sw;
  for (int64_t i = 0; i < g.kh; ++i)
    for (int64_t oy = g.row_lo[i]; oy < g.row_hi[i]; ++oy) {
      const T* xr = x + (oy * sh - g.ph + i) * g.w;
      const T* gr = gy + oy * g.ow;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t lo = g.col_lo[j], hi = g.col_hi[j], off = j - g.pw;
        T* a = acc + (i * g.kw + j) * g.ow;
#pragma omp simd
        for (int64_t ox = lo; ox < hi; ++ox) a[ox] += gr[ox] * xr[ox * sw + off];
      }
    }
}

// The same for the unrolled instances: the plane is copied into xpad (hp x wp, border zero), so one loop over
// each output row serves all K*K taps, with no bounds and one pass over gy.
template <class T, int K, int S>
void weight_grad_plane_padded(const Plane& g, const T* x, const T* gy, T* xpad, T* acc) {
  const int64_t wp = g.w + 2 * g.pw;
  for (int64_t iy = 0; iy < g.h; ++iy)
    std::copy(x + iy * g.w, x + (iy + 1) * g.w, xpad + (iy + g.ph) * wp + g.pw);
  for (int64_t oy = 0; oy < g.oh; ++oy) {
    const T* xr = xpad + oy * S * wp;
    const T* gr = gy + oy * g.ow;
#pragma omp simd
    for (int64_t ox = 0; ox < g.ow; ++ox) {
      const T gv = gr[ox];
      for (int i = 0; i < K; ++i)
        for (int j = 0; j < K; ++j) acc[(i * K + j) * g.ow + ox] += gv * xr[i * wp + ox * S + j];
    }
  }
}

// The input gradient of one plane by scattering gy through the filter (any stride and padding).
template <class T, int S>
void input_grad_plane_scatter(const Plane& g, const T* w, const T* gy, T* gx) {
  const int64_t sh = S ? S : g.sh, sw = S ? S : g.sw;
  std::fill(gx, gx + g.h * g.w, T(0));
  for (int64_t i = 0; i < g.kh; ++i)
    for (int64_t oy = g.row_lo[i]; oy < g.row_hi[i]; ++oy) {
      T* xr = gx + (oy * sh - g.ph + i) * g.w;
      const T* gr = gy + oy * g.ow;
      for (int64_t j = 0; j < g.kw; ++j) {
        const T wij = w[i * g.kw + j];
        const int64_t lo = g.col_lo[j], hi = g.col_hi[j], off = j - g.pw;
        // Distinct ox write distinct pixels for one tap: no conflict within the vector.
#pragma omp simd
        for (int64_t ox = lo; ox < hi; ++ox) xr[ox * sw + off] += wij * gr[ox];
      }
    }
}

// The input gradient of one plane for 3x3 stride 2, gathered instead of scattered. In padded input
// coordinates (u = ix + pw), tap j of output column ox lands on u = 2*ox + j, so an even u = 2m receives
// taps 0 and 2 (from ox = m and m - 1) and an odd u = 2m + 1 tap 1 (from ox = m); rows likewise. Each gx row
// is built from two unit-stride combinations of gy rows (even[m], odd[m]) and written once, instead of nine
// strided read-modify-write passes. gp: gy copied with a zero row and column on each side, (oh+2) x (ow+2);
// eo: 2*(ow+1) scratch.
template <class T>
void input_grad_plane_s2k3(const Plane& g, const T* w, const T* gy, T* gp, T* eo, T* gx) {
  const int64_t gw2 = g.ow + 2, m_count = g.ow + 1;
  for (int64_t oy = 0; oy < g.oh; ++oy)
    std::copy(gy + oy * g.ow, gy + (oy + 1) * g.ow, gp + (oy + 1) * gw2 + 1);
  T* even = eo;
  T* odd = eo + m_count;
  for (int64_t iy = 0; iy < g.h; ++iy) {
    const int64_t r = iy + g.ph, m = r / 2;
    std::fill(eo, eo + 2 * m_count, T(0));
    // (tap row i, output row oy) pairs reaching padded row r; gp row oy + 1 holds gy row oy (0 outside).
    const int64_t pairs = r % 2 == 0 ? 2 : 1;
    for (int64_t q = 0; q < pairs; ++q) {
      const int64_t i = r % 2 == 0 ? 2 * q : 1, oy = r % 2 == 0 ? m - q : m;
      const T* gr = gp + (oy + 1) * gw2 + 1;  // gr[-1] and gr[ow] are zero
      const T w0 = w[i * 3], w1 = w[i * 3 + 1], w2 = w[i * 3 + 2];
#pragma omp simd
      for (int64_t mc = 0; mc < m_count; ++mc) {
        even[mc] += w0 * gr[mc] + w2 * gr[mc - 1];
        odd[mc] += w1 * gr[mc];
      }
    }
    // Interleave: gx columns with ix + pw even come from even[], the others from odd[].
    T* xr = gx + iy * g.w;
    const int64_t e0 = g.pw & 1, o0 = 1 - e0;  // first column of each parity
#pragma omp simd
    for (int64_t q = 0; q < (g.w - e0 + 1) / 2; ++q) xr[e0 + 2 * q] = even[(e0 + g.pw) / 2 + q];
#pragma omp simd
    for (int64_t q = 0; q < (g.w - o0 + 1) / 2; ++q) xr[o0 + 2 * q] = odd[(o0 + g.pw) / 2 + q];
  }
}

template <class T>
void backward_v2(const Conv2dShape& s, const T* x, const T* w, const T* gy, T* gx, T* gw, T* gb) {
  const Plane g(s);
  const int64_t C = s.c_in, k = s.kh * s.kw, in_plane = s.h * s.w, out_plane = g.oh * g.ow;
  // Stride 1 with padding < kernel: gx is the correlation of gy, padded by k - 1 - p, with the flipped
  // filter, i.e. the forward kernel (its interior fast path included) on a plane of gy's size.
  const bool gather = s.stride_h == 1 && s.stride_w == 1 && s.pad_h < s.kh && s.pad_w < s.kw;
  const Plane gt(g.oh, g.ow, s.kh, s.kw, 1, 1, s.kh - 1 - s.pad_h, s.kw - 1 - s.pad_w);
  std::vector<T> wflip(gx && gather ? C * k : 0);
  for (int64_t c = 0; c < int64_t(wflip.size()) / k; ++c)
    for (int64_t t = 0; t < k; ++t) wflip[c * k + t] = w[c * k + (k - 1 - t)];

  const int64_t hp = s.h + 2 * s.pad_h, wp = s.w + 2 * s.pad_w, acc_size = k * g.ow;

  dispatch_kernel(s, [&]<int K, int S>() {
#pragma omp parallel
    {
      // Each thread owns a contiguous block of channels and walks it image by image: one contiguous stretch
      // of memory per image (a loop over images inside a channel jumps c*h*w elements per plane, a TLB miss
      // per small plane), while each channel's sums still run over the images in order, so gw and gb do not
      // depend on the thread count.
      const int t = omp_get_thread_num(), nt = omp_get_num_threads();
      const int64_t c0 = C * t / nt, c1 = C * (t + 1) / nt;
      std::vector<T> acc(gw ? (c1 - c0) * acc_size : 0, T(0)), bsum(c1 - c0, T(0));
      std::vector<T> xpad(K && gw ? hp * wp : 0, T(0));  // its border stays zero
      const bool s2k3 = K == 3 && S == 2 && gx;
      std::vector<T> gpad(s2k3 ? (g.oh + 2) * (g.ow + 2) : 0, T(0)), eo(s2k3 ? 2 * (g.ow + 1) : 0);
      for (int64_t b = 0; b < s.n; ++b)
        for (int64_t c = c0; c < c1; ++c) {
          const int64_t p = b * C + c;
          const T* gyp = gy + p * out_plane;
          if (gb) {
            T sum = 0;
#pragma omp simd reduction(+ : sum)
            for (int64_t q = 0; q < out_plane; ++q) sum += gyp[q];
            bsum[c - c0] += sum;
          }
          if (gw) {
            T* a = acc.data() + (c - c0) * acc_size;
            if constexpr (K != 0)
              weight_grad_plane_padded<T, K, S>(g, x + p * in_plane, gyp, xpad.data(), a);
            else
              weight_grad_plane<T, S>(g, x + p * in_plane, gyp, a);
          }
          if (gx) {
            if (gather)
              forward_plane<T, K, 1>(gt, gyp, wflip.data() + c * k, T(0), gx + p * in_plane);
            else if (s2k3)
              input_grad_plane_s2k3<T>(g, w + c * k, gyp, gpad.data(), eo.data(), gx + p * in_plane);
            else
              input_grad_plane_scatter<T, S>(g, w + c * k, gyp, gx + p * in_plane);
          }
        }
      for (int64_t c = c0; c < c1; ++c) {
        if (gw)
          for (int64_t tap = 0; tap < k; ++tap) {
            const T* a = acc.data() + (c - c0) * acc_size + tap * g.ow;
            T sum = 0;  // in column order: deterministic
            for (int64_t ox = 0; ox < g.ow; ++ox) sum += a[ox];
            gw[c * k + tap] = sum;
          }
        if (gb) gb[c] = bsum[c - c0];
      }
    }
  });
}

}  // namespace

template <class T>
void depthwise_conv2d_forward_v1(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  check_shape(s, "depthwise_conv2d_forward");
  SSL_CHECK(x && w && y, "depthwise_conv2d_forward: x, w and y must not be null");
  forward_v1(s, x, w, bias, y);
}

template <class T>
void depthwise_conv2d_forward_v2(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  check_shape(s, "depthwise_conv2d_forward");
  SSL_CHECK(x && w && y, "depthwise_conv2d_forward: x, w and y must not be null");
  forward_v2(s, x, w, bias, y);
}

// _v3's forward without the checks, moments or nullptr (kernels/cpu/depthwise_v3.cpp), for the dispatch
// below.
template <class T>
void depthwise_v3_forward_unchecked(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y,
                                    double* moments);

template <class T>
void depthwise_conv2d_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y,
                              double* moments) {
  check_shape(s, "depthwise_conv2d_forward");
  SSL_CHECK(x && w && y, "depthwise_conv2d_forward: x, w and y must not be null");
  if (uses_channel_tiles(s)) return depthwise_v3_forward_unchecked(s, x, w, bias, y, moments);
  forward_v2(s, x, w, bias, y, moments);
}

namespace {
void check_backward(const Conv2dShape& s, const void* x, const void* w, const void* gy, const void* gx,
                    const void* gw) {
  check_shape(s, "depthwise_conv2d_backward");
  SSL_CHECK(gy, "depthwise_conv2d_backward: gy must not be null");
  SSL_CHECK(!gw || x, "depthwise_conv2d_backward: x is needed for the weight gradient");
  SSL_CHECK(!gx || w, "depthwise_conv2d_backward: w is needed for the input gradient");
}
}  // namespace

template <class T>
void depthwise_conv2d_backward_v1(const Conv2dShape& s, const T* x, const T* w, const T* gy, T* gx, T* gw,
                                  T* gb) {
  check_backward(s, x, w, gy, gx, gw);
  if (gx || gw || gb) backward_v1(s, x, w, gy, gx, gw, gb);
}

template <class T>
void depthwise_conv2d_backward_v2(const Conv2dShape& s, const T* x, const T* w, const T* gy, T* gx, T* gw,
                                  T* gb) {
  check_backward(s, x, w, gy, gx, gw);
  if (gx || gw || gb) backward_v2(s, x, w, gy, gx, gw, gb);
}

template <class T>
void depthwise_conv2d_backward(const Conv2dShape& s, const T* x, const T* w, const T* gy, T* gx, T* gw,
                               T* gb) {
  if (uses_channel_tiles(s)) return depthwise_conv2d_backward_v3(s, x, w, gy, gx, gw, gb);
  depthwise_conv2d_backward_v2(s, x, w, gy, gx, gw, gb);
}

#define SSL_DEPTHWISE_INSTANTIATE(T)                                                                        \
  template void depthwise_conv2d_forward<T>(const Conv2dShape&, const T*, const T*, const T*, T*, double*); \
  template void depthwise_conv2d_forward_v1<T>(const Conv2dShape&, const T*, const T*, const T*, T*);       \
  template void depthwise_conv2d_forward_v2<T>(const Conv2dShape&, const T*, const T*, const T*, T*);       \
  template void depthwise_conv2d_backward<T>(const Conv2dShape&, const T*, const T*, const T*, T*, T*, T*); \
  template void depthwise_conv2d_backward_v1<T>(const Conv2dShape&, const T*, const T*, const T*, T*, T*,   \
                                                T*);                                                        \
  template void depthwise_conv2d_backward_v2<T>(const Conv2dShape&, const T*, const T*, const T*, T*, T*, T*);
SSL_DEPTHWISE_INSTANTIATE(float)
SSL_DEPTHWISE_INSTANTIATE(double)
#undef SSL_DEPTHWISE_INSTANTIATE

}  // namespace ssl::kernels::cpu
