// 2-D pooling kernels on contiguous NCHW tensors: max, average and adaptive average. Every (image, channel)
// plane is pooled independently; output sizes follow PyTorch (floor division, no ceil_mode, no dilation).
#pragma once

#include <cstdint>

#include "kernels/common/window_count.h"

namespace ssl::kernels {

struct Pool2dShape {
  int64_t n, c, h, w, kh, kw, stride_h, stride_w;
  int64_t pad_h = 0, pad_w = 0;

  int64_t out_h() const { return window_count(h + 2 * pad_h, kh, stride_h); }
  int64_t out_w() const { return window_count(w + 2 * pad_w, kw, stride_w); }
};

namespace cpu {

using ssl::kernels::Pool2dShape;

// Shapes: x and gx [n, c, h, w]; y, gy and argmax [n, c, out_h, out_w].
// All pooling functions require a valid shape (positive sizes, stride >= 1, 0 <= pad <= kernel/2 as in
// PyTorch, so that every window overlaps the input), otherwise they throw ssl::Error.
// Backward functions OVERWRITE gx.

// y = the largest input in each window; padding acts as -inf, so it is never chosen. A NaN in a window wins
// (it propagates, as in PyTorch); among equal values the first in row-major order wins.
// argmax receives the flat index (iy*w + ix) of the chosen element within its input plane.
template <class T>
void max_pool2d_forward(const Pool2dShape& s, const T* x, T* y, int64_t* argmax);
// gx[argmax] += gy; every other input gets 0.
template <class T>
void max_pool2d_backward(const Pool2dShape& s, const T* gy, const int64_t* argmax, T* gx);

// y = the mean over the window with count_include_pad = true (PyTorch's default): padding counts as zeros,
// so every window divides by kh*kw.
template <class T>
void avg_pool2d_forward(const Pool2dShape& s, const T* x, T* y);
template <class T>
void avg_pool2d_backward(const Pool2dShape& s, const T* gy, T* gx);

// Output cell (i, j) averages rows [floor(i*h/out_h), ceil((i+1)*h/out_h)) and columns
// [floor(j*w/out_w), ceil((j+1)*w/out_w)) (PyTorch's bins; neighbouring bins may overlap).
// Requires n, c, h, w, out_h, out_w >= 1. x, gx [n, c, h, w]; y, gy [n, c, out_h, out_w].
template <class T>
void adaptive_avg_pool2d_forward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t out_h, int64_t out_w,
                                 const T* x, T* y);
template <class T>
void adaptive_avg_pool2d_backward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t out_h, int64_t out_w,
                                  const T* gy, T* gx);

}  // namespace cpu
}  // namespace ssl::kernels
