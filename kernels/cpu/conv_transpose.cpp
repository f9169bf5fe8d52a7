// CPU transposed convolution: GEMM + col2im, chunks of images spread over OpenMP threads.
//
// For one group of a chunk of nb images, with P = h*w input pixels per image, K = (c_out/groups)*kh*kw,
// Cg = c_in/groups and W_g the group's weights viewed as [Cg, K], X [Cg, nb*P] holds the images' input planes
// side by side and col [K, nb*P] their columns (kernels/cpu/image_chunks.h says why chunks):
//   forward  col = W_gᵀ · X;  y_b = col2im(block b of col) (+ bias)   col2im adds overlapping patches up
//   gx       block b of col = im2col(gy_b);  GX [Cg, nb*P] = W_g · col an ordinary convolution of gy
//   gw       gw [Cg, K] += X · colᵀ                                   summed over chunks
//   gb       gb [c_out] += sums of gy over each output plane
// This is conv2d's recipe (kernels/cpu/conv.cpp) with forward and input-gradient swapped. Here im2col and
// col2im clip at the output's border instead of going through a zero-padded copy, because the "padding"
// of a transposed convolution removes output rows rather than adding input ones.
// A 1x1, stride-1, unpadded transposed convolution needs no col2im: col is the output planes themselves.
//
// A DCGAN generator's first layers have planes of 1 and 16 pixels: one product per image would be a
// matrix-vector product that reads the whole weight for every image. Each product runs on its thread alone
// (gemm_serial). Each thread owns its part of the scratch (kernels/cpu/scratch.h) and in backward its own
// gw/gb partial sums, added in thread order at the end: the result does not depend on scheduling.
#include "kernels/conv_transpose.h"
#include "kernels/cpu/image_chunks.h"
#include "kernels/cpu/plane_moments.h"
#include "kernels/cpu/scratch.h"
#include "kernels/cpu/thread_partials.h"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "core/error.h"
#include "kernels/gemm.h"

namespace ssl::kernels::cpu {
namespace {

void check_shape(const ConvTranspose2dShape& s, const char* fn) {
  SSL_CHECK(s.n >= 1 && s.c_in >= 1 && s.h >= 1 && s.w >= 1 && s.c_out >= 1 && s.kh >= 1 && s.kw >= 1, fn,
            ": sizes must be positive, got n=", s.n, " c_in=", s.c_in, " h=", s.h, " w=", s.w,
            " c_out=", s.c_out, " kernel=", s.kh, "x", s.kw);
  SSL_CHECK(s.stride_h >= 1 && s.stride_w >= 1 && s.pad_h >= 0 && s.pad_w >= 0, fn,
            ": stride must be >= 1 and padding >= 0, got stride=", s.stride_h, "x", s.stride_w,
            " pad=", s.pad_h, "x", s.pad_w);
  SSL_CHECK(s.out_pad_h >= 0 && s.out_pad_w >= 0 && s.out_pad_h < s.stride_h && s.out_pad_w < s.stride_w, fn,
            ": output_padding must be in [0, stride), got ", s.out_pad_h, "x", s.out_pad_w, " with stride ",
            s.stride_h, "x", s.stride_w);
  SSL_CHECK(s.groups >= 1 && s.c_in % s.groups == 0 && s.c_out % s.groups == 0, fn,
            ": c_in and c_out must be divisible by groups, got c_in=", s.c_in, " c_out=", s.c_out,
            " groups=", s.groups);
  SSL_CHECK(s.out_h() >= 1 && s.out_w() >= 1, fn, ": padding ", s.pad_h, "x", s.pad_w,
            " leaves no output for input ", s.h, "x", s.w, " and kernel ", s.kh, "x", s.kw);
}

struct Geometry {
  int64_t cg_in, cg_out;  // channels per group
  int64_t p;              // input pixels per plane, h*w: columns of col
  int64_t oh, ow, oplane;
  int64_t k;           // rows of col: cg_out*kh*kw
  bool output_is_col;  // 1x1, stride 1, no padding: col is the output itself

  explicit Geometry(const ConvTranspose2dShape& s)
      : cg_in(s.c_in / s.groups),
        cg_out(s.c_out / s.groups),
        p(s.h * s.w),
        oh(s.out_h()),
        ow(s.out_w()),
        oplane(oh * ow),
        k(cg_out * s.kh * s.kw),
        output_is_col(s.kh == 1 && s.kw == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_h == 0 &&
                      s.pad_w == 0 && s.out_pad_h == 0 && s.out_pad_w == 0) {}
};

// The input columns ix whose output column ix*stride - pad + j lies in [0, out): [lo, hi).
struct Span {
  int64_t lo, hi;
};
inline Span valid_inputs(int64_t j, int64_t stride, int64_t pad, int64_t in, int64_t out) {
  const int64_t lo_num = pad - j, hi_num = out + pad - j;  // need lo_num <= ix*stride < hi_num
  const int64_t lo = lo_num <= 0 ? 0 : (lo_num + stride - 1) / stride;
  const int64_t hi = hi_num <= 0 ? 0 : std::min(in, (hi_num + stride - 1) / stride);
  return {lo, std::max(lo, hi)};
}

// Adds every entry of the k x p block of col (rows ld apart) onto the output pixel it belongs to: row
// (c, i, j), column (iy, ix) goes to y[c][iy*sh - ph + i][ix*sw - pw + j] when that lies inside the output.
// The caller initialises y.
template <class T>
void col2im(const ConvTranspose2dShape& s, const Geometry& g, const T* col, int64_t ld, T* y) {
  for (int64_t c = 0; c < g.cg_out; ++c)
    for (int64_t i = 0; i < s.kh; ++i)
      for (int64_t j = 0; j < s.kw; ++j, col += ld) {
        const Span r = valid_inputs(j, s.stride_w, s.pad_w, s.w, g.ow);
        for (int64_t iy = 0; iy < s.h; ++iy) {
          const int64_t oy = iy * s.stride_h - s.pad_h + i;
          if (oy < 0 || oy >= g.oh) continue;
          const T* src = col + iy * s.w;
          T* dst = y + c * g.oplane + oy * g.ow;
          const int64_t sw = s.stride_w, off = j - s.pad_w;  // ox = ix*sw + off
#pragma omp simd
          for (int64_t ix = r.lo; ix < r.hi; ++ix) dst[ix * sw + off] += src[ix];
        }
      }
}

// The adjoint, into the k x p block of col whose rows are ld apart:
// col[(c, i, j)][(iy, ix)] = gy[c][iy*sh - ph + i][ix*sw - pw + j], 0 outside the output.
template <class T>
void im2col(const ConvTranspose2dShape& s, const Geometry& g, const T* gy, T* col, int64_t ld) {
  for (int64_t c = 0; c < g.cg_out; ++c)
    for (int64_t i = 0; i < s.kh; ++i)
      for (int64_t j = 0; j < s.kw; ++j, col += ld) {
        const Span r = valid_inputs(j, s.stride_w, s.pad_w, s.w, g.ow);
        for (int64_t iy = 0; iy < s.h; ++iy) {
          T* dst = col + iy * s.w;
          const int64_t oy = iy * s.stride_h - s.pad_h + i;
          if (oy < 0 || oy >= g.oh) {
            std::fill(dst, dst + s.w, T(0));
            continue;
          }
          const T* src = gy + c * g.oplane + oy * g.ow;
          const int64_t sw = s.stride_w, off = j - s.pad_w;
          std::fill(dst, dst + r.lo, T(0));
#pragma omp simd
          for (int64_t ix = r.lo; ix < r.hi; ++ix) dst[ix] = src[ix * sw + off];
          std::fill(dst + r.hi, dst + s.w, T(0));
        }
      }
}

}  // namespace

template <class T>
void conv_transpose2d_forward(const ConvTranspose2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  check_shape(s, "conv_transpose2d_forward");
  SSL_CHECK(x && w && y, "conv_transpose2d_forward: x, w and y must not be null");
  const Geometry g(s);
  const int64_t x_image = s.c_in * g.p, y_image = s.c_out * g.oplane;
  const int nt = threads_for_items(s.n);
  const int64_t nb = images_per_chunk(g.p, s.n, nt), chunks = (s.n + nb - 1) / nb;
  // Per-thread scratch: [gathered input | col]. With one image per chunk the product reads x in place, and
  // when the output is col it also writes y in place.
  const bool in_place = nb == 1;
  const int64_t xs_size = in_place ? 0 : g.cg_in * nb * g.p;
  const int64_t col_size = g.output_is_col && in_place ? 0 : g.k * nb * g.p;
  const int64_t per_thread = xs_size + col_size;
  T* scratch = reusable_scratch<T>(nt * per_thread);

#pragma omp parallel num_threads(nt)
  {
    T* xs = scratch + omp_get_thread_num() * per_thread;
    T* col = xs + xs_size;
#pragma omp for schedule(static)
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
      const int64_t b0 = chunk * nb, cb = std::min(nb, s.n - b0), cols = cb * g.p;
      for (int64_t gi = 0; gi < s.groups; ++gi) {
        const T* xg = x + b0 * x_image + gi * g.cg_in * g.p;
        T* yg = y + b0 * y_image + gi * g.cg_out * g.oplane;
        if (!in_place) gather_planes(xg, x_image, cb, g.cg_in, g.p, xs);
        // col [k, cols] = W_gᵀ [k, cg_in] · X [cg_in, cols]
        T* out = g.output_is_col && in_place ? yg : col;
        gemm_serial<T>(true, false, g.k, cols, g.cg_in, T(1), w + gi * g.cg_in * g.k, g.k, in_place ? xg : xs,
                       cols, T(0), out, cols);
        if (g.output_is_col && !in_place) scatter_planes(col, cb, g.cg_out, g.p, yg, y_image);
        for (int64_t b = 0; b < cb; ++b) {
          T* yb = yg + b * y_image;
          if (!g.output_is_col) {
            std::fill(yb, yb + g.cg_out * g.oplane, T(0));
            col2im(s, g, col + b * g.p, cols, yb);
          }
          if (bias)
            for (int64_t c = 0; c < g.cg_out; ++c) {
              T* plane = yb + c * g.oplane;
              const T bc = bias[gi * g.cg_out + c];
#pragma omp simd
              for (int64_t q = 0; q < g.oplane; ++q) plane[q] += bc;
            }
        }
      }
    }
  }
}

template <class T>
void conv_transpose2d_backward(const ConvTranspose2dShape& s, const T* x, const T* w, const T* gy, T* gx,
                               T* gw, T* gb) {
  check_shape(s, "conv_transpose2d_backward");
  SSL_CHECK(gy, "conv_transpose2d_backward: gy must not be null");
  SSL_CHECK(!gw || x, "conv_transpose2d_backward: x is needed for the weight gradient");
  SSL_CHECK(!gx || w, "conv_transpose2d_backward: w is needed for the input gradient");
  if (!gx && !gw && !gb) return;

  const Geometry g(s);
  const int64_t x_image = s.c_in * g.p, y_image = s.c_out * g.oplane, w_size = s.c_in * g.k;
  const int nt = threads_for_items(s.n);
  const int64_t nb = images_per_chunk(g.p, s.n, nt), chunks = (s.n + nb - 1) / nb;
  const bool in_place = nb == 1;
  // Per-thread scratch: [gathered input | col | gathered input gradient].
  const int64_t xs_size = gw && !in_place ? g.cg_in * nb * g.p : 0;
  const int64_t col_size = (gw || gx) && !(g.output_is_col && in_place) ? g.k * nb * g.p : 0;
  const int64_t gxs_size = gx && !in_place ? g.cg_in * nb * g.p : 0;
  const int64_t per_thread = xs_size + col_size + gxs_size;
  T* scratch = reusable_scratch<T>(nt * per_thread);
  std::vector<T> gw_part(gw ? nt * w_size : 0), gb_part(gb ? nt * s.c_out : 0);

#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num();
    T* xs = scratch + t * per_thread;
    T* col = xs + xs_size;
    T* gxs = col + col_size;
#pragma omp for schedule(static)
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
      const int64_t b0 = chunk * nb, cb = std::min(nb, s.n - b0), cols = cb * g.p;
      for (int64_t gi = 0; gi < s.groups; ++gi) {
        const T* gyg = gy + b0 * y_image + gi * g.cg_out * g.oplane;
        if (gb)
          for (int64_t b = 0; b < cb; ++b)
            for (int64_t c = 0; c < g.cg_out; ++c) {
              gb_part[t * s.c_out + gi * g.cg_out + c] +=
                  plane_sum(gyg + b * y_image + c * g.oplane, g.oplane);
            }
        if (!gw && !gx) continue;
        // col [k, cols]: the chunk's gy unfolded (gy itself when the output is col).
        if (g.output_is_col && !in_place) gather_planes(gyg, y_image, cb, g.cg_out, g.p, col);
        if (!g.output_is_col)
          for (int64_t b = 0; b < cb; ++b) im2col(s, g, gyg + b * y_image, col + b * g.p, cols);
        const T* cols_of_gy = g.output_is_col && in_place ? gyg : col;
        if (gw) {
          const T* xg = x + b0 * x_image + gi * g.cg_in * g.p;
          if (!in_place) gather_planes(xg, x_image, cb, g.cg_in, g.p, xs);
          // GW [cg_in, k] += X [cg_in, cols] · colᵀ
          gemm_serial<T>(false, true, g.cg_in, g.k, cols, T(1), in_place ? xg : xs, cols, cols_of_gy, cols,
                         T(1), gw_part.data() + t * w_size + gi * g.cg_in * g.k, g.k);
        }
        if (gx) {
          // GX [cg_in, cols] = W_g [cg_in, k] · col
          T* gxg = gx + b0 * x_image + gi * g.cg_in * g.p;
          gemm_serial<T>(false, false, g.cg_in, cols, g.k, T(1), w + gi * g.cg_in * g.k, g.k, cols_of_gy,
                         cols, T(0), in_place ? gxg : gxs, cols);
          if (!in_place) scatter_planes(gxs, cb, g.cg_in, g.p, gxg, x_image);
        }
      }
    }
    // The implicit barrier above guarantees every partial sum is complete. Add them in thread order.
    if (gw) sum_thread_partials(gw_part.data(), nt, w_size, gw);
    if (gb) sum_thread_partials(gb_part.data(), nt, s.c_out, gb);
  }
}

template void conv_transpose2d_forward<float>(const ConvTranspose2dShape&, const float*, const float*,
                                              const float*, float*);
template void conv_transpose2d_forward<double>(const ConvTranspose2dShape&, const double*, const double*,
                                               const double*, double*);
template void conv_transpose2d_backward<float>(const ConvTranspose2dShape&, const float*, const float*,
                                               const float*, float*, float*, float*);
template void conv_transpose2d_backward<double>(const ConvTranspose2dShape&, const double*, const double*,
                                                const double*, double*, double*, double*);

}  // namespace ssl::kernels::cpu
