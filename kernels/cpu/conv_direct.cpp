// CPU convolution by direct loops, for layers with few output channels per group (an image generator's or
// decoder's last layer: 3 channels out).
//
// im2col + GEMM (kernels/cpu/conv.cpp) writes k = cg_in*kh*kw rows of p values per image and reads them back
// for only cg_out multiply-adds each: for a 128 -> 3 layer at 32x32 the column matrix (4.7 MB per image) is
// moved three or four times for 3.5 M multiply-adds, and the GEMM's 6-row tile is half empty. Here every tap
// t = (input channel ci, kernel offset i, j) is applied to the zero-padded input plane xp where it lies:
//   forward  y[co][oy][ox]                 = b[co] + Σ_t w[co][t] · xp[ci][oy*sh + i][ox*sw + j]
//   gx       gxp[ci][oy*sh + i][ox*sw + j] += Σ_co w[co][t] · gy[co][oy][ox]          for every t, oy, ox
//   gw       gw[co][t]                     += Σ_oy,ox gy[co][oy][ox] · xp[ci][oy*sh + i][ox*sw + j]
//   gb       gb[co]                        += Σ gy[co]
// Output channels go in blocks of kOut, so that each value read from xp serves kOut multiply-adds. Forward,
// a tile of kLanes pixels of one output row keeps its kOut x kLanes sums in vector registers over every tap;
// the gradients go tap by tap over the whole plane (gx: one read and write of gxp per kOut multiply-adds; gw:
// kOut x kLanes sums in registers per tap). A block with fewer than kOut channels gets zero weights (and a
// row of zeros for gy) in the missing places. Layers with many output channels run too (the tests use that),
// but im2col + GEMM is faster for them.
//
// Images are spread over OpenMP threads; every sum runs in a fixed order, and gw/gb are per-thread partial
// sums added in thread order, so the result does not depend on scheduling.
#include "kernels/cpu/conv_direct.h"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "kernels/cpu/conv_geometry.h"
#include "kernels/cpu/plane_moments.h"
#include "kernels/cpu/scratch.h"
#include "kernels/cpu/thread_partials.h"

namespace ssl::kernels::cpu {
namespace {

constexpr int64_t kLanes = 16;               // output pixels of one row per tile
constexpr int64_t kOut = kDirectMaxOutputs;  // output channels per tile: a layer the rule sends here fits one

template <class T>
using Tile = T[kOut][kLanes];

int64_t blocks_of_outputs(const ConvGeometry& g) { return (g.cg_out + kOut - 1) / kOut; }

// The group's weights block by block and tap by tap: wt[(block*k + t)*kOut + c] = w[block*kOut + c][t], zero
// beyond cg_out.
template <class T>
std::vector<T> weights_by_tap(const ConvGeometry& g, const T* wg) {
  std::vector<T> wt(blocks_of_outputs(g) * g.k * kOut, T(0));
  for (int64_t co = 0; co < g.cg_out; ++co)
    for (int64_t t = 0; t < g.k; ++t) wt[((co / kOut) * g.k + t) * kOut + co % kOut] = wg[co * g.k + t];
  return wt;
}

// The kOut rows of gy [cg_out, oh, ow] at output row oy from channel co0 on, `zeros` beyond cg_out.
template <class T>
void gy_rows(const ConvGeometry& g, const T* gyg, int64_t co0, int64_t oy, const T* zeros,
             const T* (&rows)[kOut]) {
  for (int64_t c = 0; c < kOut; ++c) rows[c] = co0 + c < g.cg_out ? gyg + (co0 + c) * g.p + oy * g.ow : zeros;
}

// acc[co][l] += Σ_t wt[t][co] · xp[ci][oy*sh + i][(ox0 + l)*sw + j] for l < width. kFull: width == kLanes and
// stride 1, the loop the compiler turns into straight vector code.
template <bool kFull, class T>
void forward_tile(const Conv2dShape& s, const ConvGeometry& g, const T* xp, const T* wt, int64_t oy,
                  int64_t ox0, int64_t width, Tile<T>& acc) {
  const int64_t sw = s.stride_w;
  for (int64_t ci = 0; ci < g.cg_in; ++ci)
    for (int64_t i = 0; i < s.kh; ++i) {
      const T* row = xp + ci * g.pplane + (oy * s.stride_h + i) * g.wp + ox0 * sw;
      for (int64_t j = 0; j < s.kw; ++j) {
        const T* src = row + j;
        const T* wv = wt + ((ci * s.kh + i) * s.kw + j) * kOut;
        if constexpr (kFull) {
#pragma omp simd
          for (int64_t l = 0; l < kLanes; ++l)
            for (int64_t co = 0; co < kOut; ++co) acc[co][l] += wv[co] * src[l];
        } else {
          for (int64_t l = 0; l < width; ++l)
            for (int64_t co = 0; co < kOut; ++co) acc[co][l] += wv[co] * src[l * sw];
        }
      }
    }
}

// gxp[ci][oy*sh + i][ox*sw + j] += Σ_c wv[c] · gy[co0 + c][oy][ox] over the whole output, for one tap
// (ci, i, j) and the block of output channels from co0 on (wv: the tap's kOut weights). Tap by tap, the
// tap's plane of gxp and the block's planes of gy stay in L1.
template <class T>
void input_gradient_tap(const Conv2dShape& s, const ConvGeometry& g, const T* gyg, int64_t co0,
                        const T* zeros, const T* wv, int64_t ci, int64_t i, int64_t j, T* gxp) {
  const int64_t sw = s.stride_w;
  for (int64_t oy = 0; oy < g.oh; ++oy) {
    const T* rows[kOut];
    gy_rows(g, gyg, co0, oy, zeros, rows);
    T* dst = gxp + ci * g.pplane + (oy * s.stride_h + i) * g.wp + j;
    if (sw == 1) {
#pragma omp simd
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        T sum = 0;
        for (int64_t c = 0; c < kOut; ++c) sum += wv[c] * rows[c][ox];
        dst[ox] += sum;
      }
    } else {
      // Distinct ox reach distinct pixels of the row, so the lanes never collide.
#pragma omp simd
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        T sum = 0;
        for (int64_t c = 0; c < kOut; ++c) sum += wv[c] * rows[c][ox];
        dst[ox * sw] += sum;
      }
    }
  }
}

// acc[co][l] += Σ_oy gy[co][oy][ox0 + l] · xp[ci][oy*sh + i][(ox0 + l)*sw + j] over every tile of the
// output, for one tap (ci, i, j) and the block of output channels from co0 on.
template <class T>
void weight_gradient_tap(const Conv2dShape& s, const ConvGeometry& g, const T* gyg, int64_t co0,
                         const T* zeros, const T* xp, int64_t ci, int64_t i, int64_t j, Tile<T>& acc) {
  const int64_t sw = s.stride_w;
  for (int64_t oy = 0; oy < g.oh; ++oy) {
    const T* rows[kOut];
    gy_rows(g, gyg, co0, oy, zeros, rows);
    const T* src = xp + ci * g.pplane + (oy * s.stride_h + i) * g.wp + j;
    int64_t ox0 = 0;
    if (sw == 1)
      for (; ox0 + kLanes <= g.ow; ox0 += kLanes) {
#pragma omp simd
        for (int64_t l = 0; l < kLanes; ++l)
          for (int64_t co = 0; co < kOut; ++co) acc[co][l] += rows[co][ox0 + l] * src[ox0 + l];
      }
    for (; ox0 < g.ow; ox0 += kLanes) {
      const int64_t width = std::min(kLanes, g.ow - ox0);
      for (int64_t l = 0; l < width; ++l)
        for (int64_t co = 0; co < kOut; ++co) acc[co][l] += rows[co][ox0 + l] * src[(ox0 + l) * sw];
    }
  }
}

}  // namespace

template <class T>
void conv2d_forward_direct(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y,
                           double* moments) {
  const ConvGeometry g(s);
  const int64_t x_image = s.c_in * g.plane, y_image = s.c_out * g.p;
  const int nt = threads_for_items(s.n);
  const int64_t pad_size = g.padded ? g.cg_in * g.pplane : 0;
  T* scratch = reusable_scratch<T>(nt * pad_size);
  std::vector<std::vector<T>> wt(s.groups);
  for (int64_t gi = 0; gi < s.groups; ++gi) wt[gi] = weights_by_tap(g, w + gi * g.cg_out * g.k);

#pragma omp parallel num_threads(nt)
  {
    T* xpad = scratch + omp_get_thread_num() * pad_size;
    std::fill(xpad, xpad + pad_size, T(0));  // the border stays zero: pad_input writes the interior only
#pragma omp for schedule(static)
    for (int64_t b = 0; b < s.n; ++b)
      for (int64_t gi = 0; gi < s.groups; ++gi) {
        const T* xg = x + b * x_image + gi * g.cg_in * g.plane;
        if (g.padded) pad_input(s, g, xg, xpad);
        const T* xp = g.padded ? xpad : xg;  // [cg_in, hp, wp]
        T* yg = y + b * y_image + gi * g.cg_out * g.p;
        for (int64_t block = 0; block < blocks_of_outputs(g); ++block) {
          const T* wb = wt[gi].data() + block * g.k * kOut;
          const int64_t co0 = block * kOut, outputs = std::min(kOut, g.cg_out - co0);
          for (int64_t oy = 0; oy < g.oh; ++oy)
            for (int64_t ox0 = 0; ox0 < g.ow; ox0 += kLanes) {
              const int64_t width = std::min(kLanes, g.ow - ox0);
              Tile<T> acc = {};
              if (width == kLanes && s.stride_w == 1)
                forward_tile<true>(s, g, xp, wb, oy, ox0, width, acc);
              else
                forward_tile<false>(s, g, xp, wb, oy, ox0, width, acc);
              for (int64_t c = 0; c < outputs; ++c) {
                const T b0 = bias ? bias[gi * g.cg_out + co0 + c] : T(0);
                T* dst = yg + (co0 + c) * g.p + oy * g.ow + ox0;
                for (int64_t l = 0; l < width; ++l) dst[l] = acc[c][l] + b0;
              }
            }
        }
        if (moments)
          for (int64_t co = 0; co < g.cg_out; ++co) {
            const int64_t plane = b * s.c_out + gi * g.cg_out + co;
            plane_moments(yg + co * g.p, g.p, moments + plane, moments + s.n * s.c_out + plane);
          }
      }
  }
}

template <class T>
void conv2d_backward_direct(const Conv2dShape& s, const T* x, const T* w, const T* gy, T* gx, T* gw, T* gb) {
  const ConvGeometry g(s);
  const int64_t x_image = s.c_in * g.plane, y_image = s.c_out * g.p, w_size = s.c_out * g.k;
  const int nt = threads_for_items(s.n);
  // Per-thread scratch: [padded input | padded input gradient | a row of zeros].
  const int64_t xpad_size = gw && g.padded ? g.cg_in * g.pplane : 0;
  const int64_t gxpad_size = gx ? g.cg_in * g.pplane : 0;
  const int64_t per_thread = xpad_size + gxpad_size + g.ow;
  T* scratch = reusable_scratch<T>(nt * per_thread);
  std::vector<T> gw_part(gw ? nt * w_size : 0), gb_part(gb ? nt * s.c_out : 0);
  std::vector<std::vector<T>> wt(gx ? s.groups : 0);
  for (int64_t gi = 0; gi < int64_t(wt.size()); ++gi) wt[gi] = weights_by_tap(g, w + gi * g.cg_out * g.k);

#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num();
    T* xpad = scratch + t * per_thread;
    std::fill(xpad, xpad + xpad_size, T(0));  // the border stays zero: pad_input writes the interior only
    T* gxpad = xpad + xpad_size;
    T* zeros = gxpad + gxpad_size;
    std::fill(zeros, zeros + g.ow, T(0));
#pragma omp for schedule(static)
    for (int64_t b = 0; b < s.n; ++b)
      for (int64_t gi = 0; gi < s.groups; ++gi) {
        const T* gyg = gy + b * y_image + gi * g.cg_out * g.p;
        if (gb)
          for (int64_t co = 0; co < g.cg_out; ++co) {
            gb_part[t * s.c_out + gi * g.cg_out + co] += plane_sum(gyg + co * g.p, g.p);
          }
        if (gw) {
          const T* xg = x + b * x_image + gi * g.cg_in * g.plane;
          if (g.padded) pad_input(s, g, xg, xpad);
          const T* xp = g.padded ? xpad : xg;
          T* gwg = gw_part.data() + t * w_size + gi * g.cg_out * g.k;
          for (int64_t co0 = 0; co0 < g.cg_out; co0 += kOut)
            for (int64_t ci = 0; ci < g.cg_in; ++ci)
              for (int64_t i = 0; i < s.kh; ++i)
                for (int64_t j = 0; j < s.kw; ++j) {
                  Tile<T> acc = {};
                  weight_gradient_tap(s, g, gyg, co0, zeros, xp, ci, i, j, acc);
                  const int64_t tap = (ci * s.kh + i) * s.kw + j;
                  for (int64_t c = 0; c < std::min(kOut, g.cg_out - co0); ++c) {
                    T sum = 0;
                    for (int64_t l = 0; l < kLanes; ++l) sum += acc[c][l];
                    gwg[(co0 + c) * g.k + tap] += sum;
                  }
                }
        }
        if (gx) {
          std::fill(gxpad, gxpad + gxpad_size, T(0));
          for (int64_t block = 0; block < blocks_of_outputs(g); ++block)
            for (int64_t ci = 0; ci < g.cg_in; ++ci)
              for (int64_t i = 0; i < s.kh; ++i)
                for (int64_t j = 0; j < s.kw; ++j) {
                  const T* wv = wt[gi].data() + (block * g.k + (ci * s.kh + i) * s.kw + j) * kOut;
                  input_gradient_tap(s, g, gyg, block * kOut, zeros, wv, ci, i, j, gxpad);
                }
          unpad_gradient(s, g, gxpad, gx + b * x_image + gi * g.cg_in * g.plane);
        }
      }
    // The implicit barrier above guarantees every partial sum is complete. Add them in thread order.
    if (gw) sum_thread_partials(gw_part.data(), nt, w_size, gw);
    if (gb) sum_thread_partials(gb_part.data(), nt, s.c_out, gb);
  }
}

template void conv2d_forward_direct<float>(const Conv2dShape&, const float*, const float*, const float*,
                                           float*, double*);
template void conv2d_forward_direct<double>(const Conv2dShape&, const double*, const double*, const double*,
                                            double*, double*);
template void conv2d_backward_direct<float>(const Conv2dShape&, const float*, const float*, const float*,
                                            float*, float*, float*);
template void conv2d_backward_direct<double>(const Conv2dShape&, const double*, const double*, const double*,
                                             double*, double*, double*);

}  // namespace ssl::kernels::cpu
