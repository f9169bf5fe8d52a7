// CPU convolution: im2col + GEMM (gemm_serial, kernels/gemm.h), chunks of images spread over OpenMP threads.
//
// For one group of a chunk of nb images, with K = (c_in/groups)*kh*kw rows, P = out_h*out_w columns per image
// and Cg = c_out/groups, col [K, nb*P] holds the images' unfolded windows side by side:
//   im2col   col[(ci*kh + i)*kw + j][b*P + oy*out_w + ox] = x_b[ci][oy*sh - ph + i][ox*sw - pw + j]   (0 in
//            padding)
//   forward  Y [Cg, nb*P] = w [Cg, K] * col, scattered to the images' planes (+ bias)
//   gw       gw [Cg, K] += GY [Cg, nb*P] * col^T           summed over chunks
//   gx       gcol [K, nb*P] = w^T * GY, gx_b = col2im(gcol) col2im adds the overlapping windows back up
//   gb       gb [Cg] += row sums of GY
// Why chunks: see kernels/cpu/image_chunks.h. A chunk gathers enough images for kMinColumns columns; large
// planes keep one image per GEMM, which then reads and writes the image in place. A 1x1, stride-1, unpadded
// convolution needs no im2col: the image viewed as [c_in/groups, h*w] is its col. Layers with few output
// channels per group go to direct loops instead (kernels/cpu/conv_direct.cpp; ConvAlgorithm in
// kernels/conv.h).
//
// Each thread owns its part of the scratch (a zero-padded copy of the input, the col buffer, the gathered
// output; kernels/cpu/scratch.h keeps the memory between calls) for the whole call, and in backward its own
// gw/gb partial sums, added in thread order at the end: the result does not depend on scheduling. Each GEMM
// runs on its thread alone.
#include "kernels/conv.h"
#include "kernels/cpu/conv_direct.h"
#include "kernels/cpu/conv_geometry.h"
#include "kernels/cpu/image_chunks.h"
#include "kernels/cpu/plane_moments.h"
#include "kernels/cpu/scratch.h"
#include "kernels/cpu/thread_partials.h"
#include "kernels/gemm.h"

#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <vector>

#include "core/error.h"

namespace ssl::kernels {

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

}  // namespace ssl::kernels

namespace ssl::kernels::cpu {

namespace {

bool uses_direct_loops(const Conv2dShape& s, ConvAlgorithm algorithm) {
  return algorithm == ConvAlgorithm::direct ||
         (algorithm == ConvAlgorithm::automatic && s.c_out / s.groups <= kDirectMaxOutputs);
}

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

// Unfolds one group of one (padded) image xp [cg_in, hp, wp] into the k x p block of col whose rows are ld
// apart: row (c, i, j) is the oh x ow grid of pixels xp[c][oy*stride_h + i][ox*stride_w + j].
template <class T>
void im2col(const Conv2dShape& s, const ConvGeometry& g, const T* xp, T* col, int64_t ld) {
  const int64_t sw = s.stride_w;
  for (int64_t c = 0; c < g.cg_in; ++c)
    for (int64_t i = 0; i < s.kh; ++i)
      for (int64_t j = 0; j < s.kw; ++j, col += ld)
        for (int64_t oy = 0; oy < g.oh; ++oy) {
          const T* src = xp + c * g.pplane + (oy * s.stride_h + i) * g.wp + j;
          T* dst = col + oy * g.ow;
          if (sw == 1) {  // the common case gets a unit-stride loop of its own
#pragma omp simd
            for (int64_t ox = 0; ox < g.ow; ++ox) dst[ox] = src[ox];
          } else {
#pragma omp simd
            for (int64_t ox = 0; ox < g.ow; ++ox) dst[ox] = src[ox * sw];
          }
        }
}

// The adjoint of im2col: adds every entry of the k x p block of col (rows ld apart) back onto the pixel of
// gxp [cg_in, hp, wp] it was copied from; pixels shared by several windows receive several terms. The caller
// zeroes gxp first.
template <class T>
void col2im(const Conv2dShape& s, const ConvGeometry& g, const T* col, int64_t ld, T* gxp) {
  const int64_t sw = s.stride_w;
  for (int64_t c = 0; c < g.cg_in; ++c)
    for (int64_t i = 0; i < s.kh; ++i)
      for (int64_t j = 0; j < s.kw; ++j, col += ld)
        for (int64_t oy = 0; oy < g.oh; ++oy) {
          T* dst = gxp + c * g.pplane + (oy * s.stride_h + i) * g.wp + j;
          const T* src = col + oy * g.ow;
          if (sw == 1) {
#pragma omp simd
            for (int64_t ox = 0; ox < g.ow; ++ox) dst[ox] += src[ox];
          } else {
#pragma omp simd
            for (int64_t ox = 0; ox < g.ow; ++ox) dst[ox * sw] += src[ox];
          }
        }
}

// The col matrix [k, nb*p] of group gi of images [b0, b0 + nb): x itself where col_in_place (the input is
// col and the chunk one image), otherwise `col`, filled with the windows (xpad: the thread's padded copy).
template <class T>
const T* chunk_col(const Conv2dShape& s, const ConvGeometry& g, const T* x, int64_t b0, int64_t nb,
                   int64_t gi, bool col_in_place, T* xpad, T* col) {
  const int64_t x_image = s.c_in * g.plane;
  const T* x0 = x + b0 * x_image + gi * g.cg_in * g.plane;
  if (col_in_place) return x0;
  if (g.input_is_col) {
    gather_planes(x0, x_image, nb, g.cg_in, g.p, col);
    return col;
  }
  for (int64_t b = 0; b < nb; ++b) {
    const T* xg = x0 + b * x_image;
    if (g.padded) pad_input(s, g, xg, xpad);
    im2col(s, g, g.padded ? xpad : xg, col + b * g.p, nb * g.p);
  }
  return col;
}

// gb [cg_out] += the row sums of gyg [cg_out, p] of each of cb images (gy's planes of one group). Summed from
// gy itself, image by image: Eigen's vectorised sum depends on the data's alignment, which in scratch would
// vary with the other buffers.
template <class T>
void add_bias_grad_chunk(const Conv2dShape& s, const ConvGeometry& g, const T* gyg, int64_t cb, T* gb) {
  VecMap<T> GB(gb, g.cg_out);
  for (int64_t b = 0; b < cb; ++b)
    GB += ConstMatMap<T>(gyg + b * s.c_out * g.p, g.cg_out, g.p).rowwise().sum();
}

// gw [cg_out, k] += GY [cg_out, cols] · col^T
template <class T>
void add_weight_grad_chunk(const ConvGeometry& g, const T* GY, const T* col, int64_t cols, T* gw) {
  gemm_serial<T>(false, true, g.cg_out, g.k, cols, T(1), GY, cols, col, cols, T(1), gw, g.k);
}

// The input gradient of one group of a chunk of cb images (gx0: the first image's group, wg: the group's
// weights): gcol [k, cols] = W^T · GY, then each image's windows added back onto its pixels. Where the input
// is col, gcol is the gradient itself: written straight into gx when col_in_place, else scattered to the
// planes.
template <class T>
void input_grad_chunk(const Conv2dShape& s, const ConvGeometry& g, const T* wg, const T* GY, int64_t cb,
                      bool col_in_place, T* col, T* gxpad, T* gx0) {
  const int64_t x_image = s.c_in * g.plane, cols = cb * g.p;
  gemm_serial<T>(true, false, g.k, cols, g.cg_out, T(1), wg, g.k, GY, cols, T(0), col_in_place ? gx0 : col,
                 cols);
  if (col_in_place) return;
  if (g.input_is_col) {
    scatter_planes(col, cb, g.cg_in, g.p, gx0, x_image);
    return;
  }
  for (int64_t b = 0; b < cb; ++b) {
    T* gxg = gx0 + b * x_image;
    T* acc = g.padded ? gxpad : gxg;
    std::fill(acc, acc + g.cg_in * (g.padded ? g.pplane : g.plane), T(0));
    col2im(s, g, col + b * g.p, cols, acc);
    if (g.padded) unpad_gradient(s, g, gxpad, gxg);
  }
}

}  // namespace

// With `moments` (mean [n*c_out] then M2 [n*c_out]), each image's output planes are reduced right after its
// GEMM, from the GEMM's output block, which is still in cache.
template <class T>
void conv2d_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y, double* moments,
                    ConvAlgorithm algorithm) {
  check_conv2d_shape(s, "conv2d_forward");
  SSL_CHECK(x && w && y, "conv2d_forward: x, w and y must not be null");
  if (uses_direct_loops(s, algorithm)) return conv2d_forward_direct(s, x, w, bias, y, moments);
  const ConvGeometry g(s);
  const int64_t y_image = s.c_out * g.p;
  const int nt = threads_for_items(s.n);
  const int64_t nb = images_per_chunk(g.p, s.n, nt), chunks = (s.n + nb - 1) / nb;
  // With one image per chunk a convolution whose input is col reads x and writes y in place; otherwise col
  // and the gathered output live in per-thread scratch: [padded input | col | output].
  const bool in_place = nb == 1, col_in_place = g.input_is_col && in_place;
  const int64_t pad_size = g.padded ? g.cg_in * g.pplane : 0;
  const int64_t col_size = col_in_place ? 0 : g.k * nb * g.p;
  const int64_t out_size = in_place ? 0 : g.cg_out * nb * g.p;
  const int64_t per_thread = pad_size + col_size + out_size;
  T* scratch = reusable_scratch<T>(nt * per_thread);

#pragma omp parallel num_threads(nt)
  {
    T* xpad = scratch + omp_get_thread_num() * per_thread;
    std::fill(xpad, xpad + pad_size, T(0));  // the border stays zero: pad_input writes the interior only
    T* col = xpad + pad_size;
    T* out = col + col_size;
#pragma omp for schedule(static)
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
      const int64_t b0 = chunk * nb, cb = std::min(nb, s.n - b0), cols = cb * g.p;
      for (int64_t gi = 0; gi < s.groups; ++gi) {
        T* yg = y + b0 * y_image + gi * g.cg_out * g.p;
        const T* colp = chunk_col(s, g, x, b0, cb, gi, col_in_place, xpad, col);
        // Y [cg_out, cols] = W [cg_out, k] · col [k, cols]
        MatMap<T> Y(in_place ? yg : out, g.cg_out, cols);
        gemm_serial<T>(false, false, g.cg_out, cols, g.k, T(1), w + gi * g.cg_out * g.k, g.k, colp, cols,
                       T(0), Y.data(), cols);
        if (bias) Y.colwise() += ConstVecMap<T>(bias + gi * g.cg_out, g.cg_out);
        if (moments)
          for (int64_t b = 0; b < cb; ++b)
            for (int64_t co = 0; co < g.cg_out; ++co) {
              const int64_t plane = (b0 + b) * s.c_out + gi * g.cg_out + co;
              plane_moments(Y.data() + co * cols + b * g.p, g.p, moments + plane,
                            moments + s.n * s.c_out + plane);
            }
        if (!in_place) scatter_planes(out, cb, g.cg_out, g.p, yg, y_image);
      }
    }
  }
}

template <class T>
void conv2d_backward(const Conv2dShape& s, const T* x, const T* w, const T* gy, T* gx, T* gw, T* gb,
                     ConvAlgorithm algorithm) {
  check_conv2d_shape(s, "conv2d_backward");
  SSL_CHECK(gy, "conv2d_backward: gy must not be null");
  SSL_CHECK(!gw || x, "conv2d_backward: x is needed for the weight gradient");
  SSL_CHECK(!gx || w, "conv2d_backward: w is needed for the input gradient");
  if (!gx && !gw && !gb) return;
  if (uses_direct_loops(s, algorithm)) return conv2d_backward_direct(s, x, w, gy, gx, gw, gb);

  const ConvGeometry g(s);
  const int64_t x_image = s.c_in * g.plane, y_image = s.c_out * g.p, w_size = s.c_out * g.k;
  const int nt = threads_for_items(s.n);
  const int64_t nb = images_per_chunk(g.p, s.n, nt), chunks = (s.n + nb - 1) / nb;
  const bool in_place = nb == 1, col_in_place = g.input_is_col && in_place;
  // Per-thread scratch: [padded input | padded input gradient | col | gathered gy]. One col buffer serves
  // both directions: col for the weight gradient, then gcol for the input gradient.
  const int64_t xpad_size = gw && g.padded ? g.cg_in * g.pplane : 0;
  const int64_t gxpad_size = gx && g.padded ? g.cg_in * g.pplane : 0;
  const int64_t col_size = (gw || gx) && !col_in_place ? g.k * nb * g.p : 0;
  const int64_t gy_size = in_place ? 0 : g.cg_out * nb * g.p;
  const int64_t per_thread = xpad_size + gxpad_size + col_size + gy_size;
  T* scratch = reusable_scratch<T>(nt * per_thread);
  // Per-thread partial sums (zero-initialised; a thread that gets no chunk contributes zeros).
  std::vector<T> gw_part(gw ? nt * w_size : 0), gb_part(gb ? nt * s.c_out : 0);

#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num();
    T* xpad = scratch + t * per_thread;
    std::fill(xpad, xpad + xpad_size, T(0));  // the border stays zero: pad_input writes the interior only
    T* gxpad = xpad + xpad_size;
    T* col = gxpad + gxpad_size;
    T* gyc = col + col_size;
#pragma omp for schedule(static)
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
      const int64_t b0 = chunk * nb, cb = std::min(nb, s.n - b0), cols = cb * g.p;
      for (int64_t gi = 0; gi < s.groups; ++gi) {
        const T* gyg = gy + b0 * y_image + gi * g.cg_out * g.p;
        if (!in_place) gather_planes(gyg, y_image, cb, g.cg_out, g.p, gyc);
        const T* GY = in_place ? gyg : gyc;  // [cg_out, cols]
        if (gb) add_bias_grad_chunk(s, g, gyg, cb, gb_part.data() + t * s.c_out + gi * g.cg_out);
        if (gw)
          add_weight_grad_chunk(g, GY, chunk_col(s, g, x, b0, cb, gi, col_in_place, xpad, col), cols,
                                gw_part.data() + t * w_size + gi * g.cg_out * g.k);
        if (gx)
          input_grad_chunk(s, g, w + gi * g.cg_out * g.k, GY, cb, col_in_place, col, gxpad,
                           gx + b0 * x_image + gi * g.cg_in * g.plane);
      }
    }
    // The implicit barrier above guarantees every partial sum is complete. Add them in thread order.
    if (gw) sum_thread_partials(gw_part.data(), nt, w_size, gw);
    if (gb) sum_thread_partials(gb_part.data(), nt, s.c_out, gb);
  }
}

template void conv2d_forward<float>(const Conv2dShape&, const float*, const float*, const float*, float*,
                                    double*, ConvAlgorithm);
template void conv2d_forward<double>(const Conv2dShape&, const double*, const double*, const double*, double*,
                                     double*, ConvAlgorithm);
template void conv2d_backward<float>(const Conv2dShape&, const float*, const float*, const float*, float*,
                                     float*, float*, ConvAlgorithm);
template void conv2d_backward<double>(const Conv2dShape&, const double*, const double*, const double*,
                                      double*, double*, double*, ConvAlgorithm);

}  // namespace ssl::kernels::cpu
