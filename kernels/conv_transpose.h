// 2-D transposed convolution kernels ("deconvolution", PyTorch's ConvTranspose2d): the adjoint of conv2d
// with respect to its input. Every input pixel scatters a weighted kh x kw patch into the output:
//   y[n][co][iy*sh - ph + i][ox = ix*sw - pw + j] += x[n][ci][iy][ix] * w[ci][co - g*cg_out][i][j]
// for ci in group g and every (i, j), plus bias[co]; positions that fall outside the output are dropped.
// All tensors are contiguous NCHW; weights are [c_in, c_out/groups, kh, kw] (PyTorch's layout, which is
// the layout of the conv2d whose input gradient this op is).
//
// Output size (no dilation): out = (in - 1)*stride - 2*pad + kernel + output_padding. output_padding
// (< stride) only adds rows/columns at the bottom/right that the kernel reaches with zero weight, so that
// several input sizes of a stride-s conv2d can be inverted exactly.
#pragma once

#include <cstdint>

#include "kernels/common/window_count.h"

namespace ssl::kernels {

struct ConvTranspose2dShape {
  int64_t n, c_in, h, w, c_out, kh, kw;
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, out_pad_h = 0, out_pad_w = 0, groups = 1;

  int64_t out_h() const { return saturated(__int128(h - 1) * stride_h - 2 * pad_h + kh + out_pad_h); }
  int64_t out_w() const { return saturated(__int128(w - 1) * stride_w - 2 * pad_w + kw + out_pad_w); }
};

namespace cpu {

using ssl::kernels::ConvTranspose2dShape;

// Requires: a valid shape (positive sizes, stride >= 1, pad >= 0, 0 <= output_padding < stride, c_in and
//           c_out divisible by groups, out_h() >= 1 and out_w() >= 1), otherwise throws ssl::Error;
//           x [n, c_in, h, w], w [c_in, c_out/groups, kh, kw], bias [c_out] or nullptr (no bias).
// Ensures:  y [n, c_out, out_h, out_w] is fully written.
template <class T>
void conv_transpose2d_forward(const ConvTranspose2dShape& s, const T* x, const T* w, const T* bias, T* y);

// Gradients of L with respect to x, w and bias, given gy = dL/dy [n, c_out, out_h, out_w].
// gx [n, c_in, h, w] is the ordinary convolution of gy with w; gw [c_in, c_out/groups, kh, kw] correlates
// x with gy; gb [c_out] sums gy. Each may be nullptr (not wanted); those given are OVERWRITTEN. x is only
// read when gw is wanted, w only when gx is. gw and gb are summed in a fixed order (per-thread partial sums
// added in thread order): deterministic for a given number of OpenMP threads.
template <class T>
void conv_transpose2d_backward(const ConvTranspose2dShape& s, const T* x, const T* w, const T* gy, T* gx,
                               T* gw, T* gb);

}  // namespace cpu
}  // namespace ssl::kernels
