// Depthwise 2-D convolution: groups == c_in == c_out (channel multiplier 1), so every output plane is one
// input plane correlated with its own kh x kw filter,
//   y[n][c][oy][ox] = bias[c] + sum_{i, j} w[c][0][i][j] * x[n][c][oy*sh - ph + i][ox*sw - pw + j]
// with zero padding. Same layouts and contract as kernels/conv.h (contiguous NCHW, w [c, 1, kh, kw]); a
// direct loop instead of im2col + GEMM, because a depthwise layer does kh*kw multiply-adds per output and
// is bound by memory traffic, which im2col multiplies by kh*kw.
//
// Versions (DESIGN.md's ladder), side by side in kernels/cpu/depthwise.cpp:
//   _v1  naive: per output element, every tap with its bounds test; OpenMP over (n, c) planes forward and
//        over channels backward.
//   _v2  the filter bounds hoisted: per tap, the range of output columns/rows it reaches inside the image is
//        computed once, so the interior runs without tests; 3x3 stride 1 and 3x3 stride 2 are template
//        instances with the taps unrolled over a zero-padded copy of each plane (faster than the
//        interior/border split at every MobileNet width, measured). Backward makes one pass over x and gy
//        (gx, gw and gb together), each thread owning a block of channels and walking it image by image; for
//        stride 1, gx is the forward kernel on gy with the flipped filter, for 3x3 stride 2 a gather by
//        output parity.
//   _v3  vectorised across channels for small planes (kernels/cpu/depthwise_v3.cpp): 16 channels of an image
//        transposed into a padded channels-last tile, every tap one 16-wide multiply-add, the result
//        transposed back. On 4x4 and 2x2 planes _v2's rows are too short to vectorise.
// The unsuffixed functions pick the fastest correct version for the shape (uses_channel_tiles).
#pragma once

#include "kernels/conv.h"

namespace ssl::kernels::cpu {

// Requires: a valid shape (as conv2d_forward) with s.is_depthwise(), otherwise throws ssl::Error;
//           x [n, c, h, w], w [c, 1, kh, kw], bias [c] or nullptr.
// Ensures:  y [n, c, out_h, out_w] is fully written.
// moments, unless nullptr: each output plane's moments, as conv2d_forward records them (kernels/conv.h),
// [2, n, c]: the means, then the Σ (y - mean)². The versions below record none.
template <class T>
void depthwise_conv2d_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y,
                              double* moments = nullptr);
template <class T>
void depthwise_conv2d_forward_v1(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y);
template <class T>
void depthwise_conv2d_forward_v2(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y);
template <class T>
void depthwise_conv2d_forward_v3(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y);

// Whether _v3 is the faster version for s. Measured fwd+bwd at batch 128 on MobileNetV1's shapes (2 threads):
// v3 wins on 4x4 and 2x2 planes (2.8 vs 3.5 ms at 512 ch 4x4; 1.7 vs 4.4 ms at 1024 ch 2x2) and for stride 2
// up to 16x16 (2.1 vs 4.1 ms at 256 ch 8x8), where _v2's strided rows are short; _v2 wins for stride 1 from
// 8x8 up (3.6 vs 4.4 ms at 256 ch 8x8; 5.9 vs 10.3 ms at 128 ch 16x16).
inline bool uses_channel_tiles(const Conv2dShape& s) {
  const int64_t plane = s.h * s.w;
  return plane <= 16 || (s.stride_h == 2 && s.stride_w == 2 && plane <= 256);
}

// Gradients given gy = dL/dy [n, c, out_h, out_w]. gx [n, c, h, w], gw [c, 1, kh, kw] and gb [c] may each be
// nullptr; those given are OVERWRITTEN. x is only read when gw is wanted, w only when gx is.
// gw and gb: each channel is owned by one thread, which sums the images in order, so the result does not
// depend on the number of threads (bit-for-bit).
template <class T>
void depthwise_conv2d_backward(const Conv2dShape& s, const T* x, const T* w, const T* gy, T* gx, T* gw,
                               T* gb);
template <class T>
void depthwise_conv2d_backward_v1(const Conv2dShape& s, const T* x, const T* w, const T* gy, T* gx, T* gw,
                                  T* gb);
template <class T>
void depthwise_conv2d_backward_v2(const Conv2dShape& s, const T* x, const T* w, const T* gy, T* gx, T* gw,
                                  T* gb);
template <class T>
void depthwise_conv2d_backward_v3(const Conv2dShape& s, const T* x, const T* w, const T* gy, T* gx, T* gw,
                                  T* gb);

}  // namespace ssl::kernels::cpu
