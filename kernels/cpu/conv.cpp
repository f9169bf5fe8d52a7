// CPU convolution: im2col + Eigen GEMM, images spread over OpenMP threads.
//
// For one image and one group, with K = (c_in/groups)*kh*kw rows, P = out_h*out_w columns, Cg = c_out/groups:
//   im2col   col[(ci*kh + i)*kw + j][oy*out_w + ox] = x[ci][oy*sh - ph + i][ox*sw - pw + j]   (0 in padding)
//   forward  y [Cg, P] = w [Cg, K] * col [K, P]  (+ bias)
//   gw       gw [Cg, K] += gy [Cg, P] * col^T             summed over images
//   gx       gcol [K, P] = w^T * gy, gx = col2im(gcol)    col2im adds the overlapping windows back up
//   gb       gb [Cg] += row sums of gy
// A 1x1, stride-1, unpadded convolution needs no im2col: the image viewed as [c_in/groups, h*w] is col.
//
// Each thread owns its scratch (a zero-padded copy of the input, one K*P col buffer) for the whole call, and
// in backward its own gw/gb partial sums, added in thread order at the end: the result does not depend on
// scheduling. Eigen runs each GEMM single-threaded inside the parallel region; per-image GEMMs are small
// enough that splitting the images over the threads is the better use of the cores.
#include "kernels/conv.h"
#include "kernels/cpu/thread_partials.h"

#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <vector>

#include "core/error.h"

namespace ssl::kernels::cpu {

void check_conv2d_shape(const Conv2dShape& s, const char* fn) {
  SSL_CHECK(s.n >= 1 && s.c_in >= 1 && s.h >= 1 && s.w >= 1 && s.c_out >= 1 && s.kh >= 1 && s.kw >= 1, fn,
            ": sizes must be positive, got n=", s.n, " c_in=", s.c_in, " h=", s.h, " w=", s.w,
            " c_out=", s.c_out, " kernel=", s.kh, "x", s.kw);
  SSL_CHECK(s.stride_h >= 1 && s.stride_w >= 1 && s.pad_h >= 0 && s.pad_w >= 0, fn,
            ": stride must be >= 1 and padding >= 0, got stride=", s.stride_h, "x", s.stride_w,
            " pad=", s.pad_h, "x", s.pad_w);
  SSL_CHECK(s.groups >= 1 && s.c_in % s.groups == 0 && s.c_out % s.groups == 0, fn,
            ": c_in and c_out must be divisible by groups, got c_in=", s.c_in, " c_out=", s.c_out,
            " groups=", s.groups);
  SSL_CHECK(s.out_h() >= 1 && s.out_w() >= 1, fn, ": kernel ", s.kh, "x", s.kw,
            " does not fit the padded input ", s.h + 2 * s.pad_h, "x", s.w + 2 * s.pad_w);
}

namespace {

// Row-major views, so that a [rows, cols] block of a contiguous NCHW buffer maps without copying.
template <class T>
using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using MatMap = Eigen::Map<RowMajor<T>>;
template <class T>
using ConstMatMap = Eigen::Map<const RowMajor<T>>;
template <class T>
using VecMap = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>>;
template <class T>
using ConstVecMap = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>;

// Sizes of one group's GEMMs, derived once per call.
struct Geometry {
  int64_t cg_in, cg_out;   // channels per group
  int64_t plane;           // h*w
  int64_t hp, wp, pplane;  // the zero-padded input plane: (h + 2*pad_h) x (w + 2*pad_w)
  int64_t oh, ow, p;       // output plane, p = oh*ow columns of col
  int64_t k;               // rows of col: cg_in*kh*kw
  bool padded;             // pad_h or pad_w > 0: im2col reads from a zero-padded copy of the input
  bool direct;             // 1x1, stride 1, no padding: the input itself is col

  explicit Geometry(const Conv2dShape& s)
      : cg_in(s.c_in / s.groups),
        cg_out(s.c_out / s.groups),
        plane(s.h * s.w),
        hp(s.h + 2 * s.pad_h),
        wp(s.w + 2 * s.pad_w),
        pplane(hp * wp),
        oh(s.out_h()),
        ow(s.out_w()),
        p(oh * ow),
        k(cg_in * s.kh * s.kw),
        padded(s.pad_h > 0 || s.pad_w > 0),
        direct(s.kh == 1 && s.kw == 1 && s.stride_h == 1 && s.stride_w == 1 && !padded) {}
};

// The copies below are plain loops marked `omp simd`: the compiler vectorises them inline. (Eigen block
// assignments were 2-3x slower here because they peel scalars to align every short row, and a memcpy per
// row pays a call for 16-32 values.)

// Copies x [cg_in, h, w] into the interior of xpad [cg_in, hp, wp]. The border of xpad is zero from its
// allocation and never written, so one buffer serves every image of the call.
template <class T>
void pad_input(const Conv2dShape& s, const Geometry& g, const T* x, T* xpad) {
  for (int64_t c = 0; c < g.cg_in; ++c)
    for (int64_t iy = 0; iy < s.h; ++iy) {
      const T* src = x + c * g.plane + iy * s.w;
      T* dst = xpad + c * g.pplane + (iy + s.pad_h) * g.wp + s.pad_w;
#pragma omp simd
      for (int64_t ix = 0; ix < s.w; ++ix) dst[ix] = src[ix];
    }
}

// The inverse: the interior of gxpad [cg_in, hp, wp] into gx [cg_in, h, w]. The border holds the gradient
// of padding, which is discarded.
template <class T>
void unpad_gradient(const Conv2dShape& s, const Geometry& g, const T* gxpad, T* gx) {
  for (int64_t c = 0; c < g.cg_in; ++c)
    for (int64_t iy = 0; iy < s.h; ++iy) {
      const T* src = gxpad + c * g.pplane + (iy + s.pad_h) * g.wp + s.pad_w;
      T* dst = gx + c * g.plane + iy * s.w;
#pragma omp simd
      for (int64_t ix = 0; ix < s.w; ++ix) dst[ix] = src[ix];
    }
}

// Unfolds one group of one (padded) image xp [cg_in, hp, wp] into col [k, p]: row (c, i, j) of col is the
// oh x ow grid of pixels xp[c][oy*stride_h + i][ox*stride_w + j].
template <class T>
void im2col(const Conv2dShape& s, const Geometry& g, const T* xp, T* col) {
  const int64_t sw = s.stride_w;
  for (int64_t c = 0; c < g.cg_in; ++c)
    for (int64_t i = 0; i < s.kh; ++i)
      for (int64_t j = 0; j < s.kw; ++j)
        for (int64_t oy = 0; oy < g.oh; ++oy, col += g.ow) {
          const T* src = xp + c * g.pplane + (oy * s.stride_h + i) * g.wp + j;
          if (sw == 1) {  // the common case gets a unit-stride loop of its own
#pragma omp simd
            for (int64_t ox = 0; ox < g.ow; ++ox) col[ox] = src[ox];
          } else {
#pragma omp simd
            for (int64_t ox = 0; ox < g.ow; ++ox) col[ox] = src[ox * sw];
          }
        }
}

// The adjoint of im2col: adds every entry of col [k, p] back onto the pixel of gxp [cg_in, hp, wp] it was
// copied from; pixels shared by several windows receive several terms. The caller zeroes gxp first.
template <class T>
void col2im(const Conv2dShape& s, const Geometry& g, const T* col, T* gxp) {
  const int64_t sw = s.stride_w;
  for (int64_t c = 0; c < g.cg_in; ++c)
    for (int64_t i = 0; i < s.kh; ++i)
      for (int64_t j = 0; j < s.kw; ++j)
        for (int64_t oy = 0; oy < g.oh; ++oy, col += g.ow) {
          T* dst = gxp + c * g.pplane + (oy * s.stride_h + i) * g.wp + j;
          if (sw == 1) {
#pragma omp simd
            for (int64_t ox = 0; ox < g.ow; ++ox) dst[ox] += col[ox];
          } else {
#pragma omp simd
            for (int64_t ox = 0; ox < g.ow; ++ox) dst[ox * sw] += col[ox];
          }
        }
}

}  // namespace

template <class T>
void conv2d_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  check_conv2d_shape(s, "conv2d_forward");
  SSL_CHECK(x && w && y, "conv2d_forward: x, w and y must not be null");
  const Geometry g(s);
  const int64_t x_image = s.c_in * g.plane, y_image = s.c_out * g.p;
  const int nt = threads_for_items(s.n);
  // Per-thread scratch: [padded input | col]. Zero-initialised, which gives the padded input its border.
  const int64_t pad_size = g.padded ? g.cg_in * g.pplane : 0, col_size = g.direct ? 0 : g.k * g.p;
  std::vector<T> scratch(nt * (pad_size + col_size));

#pragma omp parallel num_threads(nt)
  {
    T* xpad = scratch.data() + omp_get_thread_num() * (pad_size + col_size);
    T* col = xpad + pad_size;
#pragma omp for schedule(static)
    for (int64_t b = 0; b < s.n; ++b) {
      for (int64_t gi = 0; gi < s.groups; ++gi) {
        const T* xg = x + b * x_image + gi * g.cg_in * g.plane;
        if (!g.direct) {
          if (g.padded) pad_input(s, g, xg, xpad);
          im2col(s, g, g.padded ? xpad : xg, col);
        }
        ConstMatMap<T> C(g.direct ? xg : col, g.k, g.p);
        ConstMatMap<T> W(w + gi * g.cg_out * g.k, g.cg_out, g.k);
        MatMap<T> Y(y + b * y_image + gi * g.cg_out * g.p, g.cg_out, g.p);
        Y.noalias() = W * C;
        if (bias) Y.colwise() += ConstVecMap<T>(bias + gi * g.cg_out, g.cg_out);
      }
    }
  }
}

template <class T>
void conv2d_backward(const Conv2dShape& s, const T* x, const T* w, const T* gy, T* gx, T* gw, T* gb) {
  check_conv2d_shape(s, "conv2d_backward");
  SSL_CHECK(gy, "conv2d_backward: gy must not be null");
  SSL_CHECK(!gw || x, "conv2d_backward: x is needed for the weight gradient");
  SSL_CHECK(!gx || w, "conv2d_backward: w is needed for the input gradient");
  if (!gx && !gw && !gb) return;

  const Geometry g(s);
  const int64_t x_image = s.c_in * g.plane, y_image = s.c_out * g.p, w_size = s.c_out * g.k;
  const int nt = threads_for_items(s.n);
  // Per-thread scratch: [padded input | padded input gradient | col]. One col buffer serves both
  // directions: col for the weight gradient, then gcol for the input gradient.
  const int64_t xpad_size = gw && g.padded ? g.cg_in * g.pplane : 0;
  const int64_t gxpad_size = gx && g.padded ? g.cg_in * g.pplane : 0;
  const int64_t col_size = !g.direct && (gw || gx) ? g.k * g.p : 0;
  const int64_t per_thread = xpad_size + gxpad_size + col_size;
  std::vector<T> scratch(nt * per_thread);
  // Per-thread partial sums (zero-initialised; a thread that gets no image contributes zeros).
  std::vector<T> gw_part(gw ? nt * w_size : 0), gb_part(gb ? nt * s.c_out : 0);

#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num();
    T* xpad = scratch.data() + t * per_thread;
    T* gxpad = xpad + xpad_size;
    T* col = gxpad + gxpad_size;
#pragma omp for schedule(static)
    for (int64_t b = 0; b < s.n; ++b) {
      for (int64_t gi = 0; gi < s.groups; ++gi) {
        ConstMatMap<T> GY(gy + b * y_image + gi * g.cg_out * g.p, g.cg_out, g.p);
        if (gb) VecMap<T>(gb_part.data() + t * s.c_out + gi * g.cg_out, g.cg_out) += GY.rowwise().sum();
        if (gw) {
          const T* xg = x + b * x_image + gi * g.cg_in * g.plane;
          if (!g.direct) {
            if (g.padded) pad_input(s, g, xg, xpad);
            im2col(s, g, g.padded ? xpad : xg, col);
          }
          ConstMatMap<T> C(g.direct ? xg : col, g.k, g.p);
          MatMap<T> GW(gw_part.data() + t * w_size + gi * g.cg_out * g.k, g.cg_out, g.k);
          GW.noalias() += GY * C.transpose();
        }
        if (gx) {
          ConstMatMap<T> W(w + gi * g.cg_out * g.k, g.cg_out, g.k);
          T* gxg = gx + b * x_image + gi * g.cg_in * g.plane;
          if (g.direct) {
            MatMap<T>(gxg, g.k, g.p).noalias() = W.transpose() * GY;
          } else {
            MatMap<T>(col, g.k, g.p).noalias() = W.transpose() * GY;
            T* acc = g.padded ? gxpad : gxg;
            std::fill(acc, acc + g.cg_in * (g.padded ? g.pplane : g.plane), T(0));
            col2im(s, g, col, acc);
            if (g.padded) unpad_gradient(s, g, gxpad, gxg);
          }
        }
      }
    }
    // The implicit barrier above guarantees every partial sum is complete. Add them in thread order.
    if (gw) sum_thread_partials(gw_part.data(), nt, w_size, gw);
    if (gb) sum_thread_partials(gb_part.data(), nt, s.c_out, gb);
  }
}

template void conv2d_forward<float>(const Conv2dShape&, const float*, const float*, const float*, float*);
template void conv2d_forward<double>(const Conv2dShape&, const double*, const double*, const double*,
                                     double*);
template void conv2d_backward<float>(const Conv2dShape&, const float*, const float*, const float*, float*,
                                     float*, float*);
template void conv2d_backward<double>(const Conv2dShape&, const double*, const double*, const double*,
                                      double*, double*, double*);

}  // namespace ssl::kernels::cpu
