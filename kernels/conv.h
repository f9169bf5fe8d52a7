// 2-D convolution kernels: what deep-learning frameworks call convolution is a cross-correlation,
//   y[n][co][oy][ox] = bias[co] + sum_{ci in group(co), i, j} w[co][ci][i][j] * x[n][ci][oy*sh - ph +
//   i][ox*sw - pw + j]
// with zero padding. All tensors are contiguous NCHW; weights are [c_out, c_in/groups, kh, kw] (PyTorch's
// layout).
//
// Groups split the channels into `groups` independent convolutions: output channels
// [g*c_out/groups, (g+1)*c_out/groups) see only input channels [g*c_in/groups, (g+1)*c_in/groups).
// groups == c_in == c_out is a depthwise convolution, which has kernels of its own (kernels/depthwise.h).
#pragma once

#include <cstdint>

#include "kernels/common/window_count.h"

namespace ssl::kernels {

// Sizes and hyper-parameters of one convolution. Output size follows PyTorch (no dilation, floor division).
struct Conv2dShape {
  int64_t n, c_in, h, w, c_out, kh, kw;
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, groups = 1;

  int64_t out_h() const { return window_count(h + 2 * pad_h, kh, stride_h); }
  int64_t out_w() const { return window_count(w + 2 * pad_w, kw, stride_w); }
  // Every output plane is one input plane correlated with its own filter: where the depthwise kernels apply
  // (CPU and CUDA), and where the ops take them.
  bool is_depthwise() const { return groups == c_in && c_out == c_in; }
};

// Throws ssl::Error naming `fn` unless the shape is valid: positive sizes, stride >= 1, padding >= 0,
// channels divisible by groups, and a kernel that fits the padded input. The CPU kernels and the CUDA
// depthwise kernels ask it (cuDNN checks its own).
void check_conv2d_shape(const Conv2dShape& s, const char* fn);

namespace cpu {

using ssl::kernels::Conv2dShape;

// How the CPU kernels compute a convolution. im2col + GEMM (kernels/cpu/conv.cpp) suits most layers; direct
// loops (kernels/cpu/conv_direct.cpp) suit layers with few output channels per group, at most
// kDirectMaxOutputs, such as an image generator's or decoder's last layer, whose column matrix would be moved
// for little arithmetic (`ssl bench --only conv_fwd_bwd` times both on a 128 -> 3 layer). `automatic`
// chooses by that rule; the kernel tests check both on every shape.
enum class ConvAlgorithm { automatic, gemm, direct };
constexpr int64_t kDirectMaxOutputs = 4;

// Requires: a valid shape (positive sizes, stride >= 1, pad >= 0, c_in and c_out divisible by groups,
//           out_h() >= 1 and out_w() >= 1), otherwise throws ssl::Error;
//           x [n, c_in, h, w], w [c_out, c_in/groups, kh, kw], bias [c_out] or nullptr (no bias).
// Ensures:  y [n, c_out, out_h, out_w] is fully written.
// moments, unless nullptr: each output plane's moments, recorded while the plane is in cache, for the batch
// norm that follows (kernels/batchnorm.h, batch_norm_relu_forward_train_moments): moments [2, n, c_out]
// receives the planes' means, then their Σ (y - mean)², plane (image i, channel co) at i*c_out + co.
template <class T>
void conv2d_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y,
                    double* moments = nullptr, ConvAlgorithm algorithm = ConvAlgorithm::automatic);

// Gradients of L with respect to x, w and bias, given gy = dL/dy [n, c_out, out_h, out_w].
// Each of gx [n, c_in, h, w], gw [c_out, c_in/groups, kh, kw] and gb [c_out] may be nullptr (not wanted);
// those given are OVERWRITTEN, not accumulated into. x is only read when gw is wanted, w only when gx is.
// gw and gb are summed over the batch in a fixed order: the result is deterministic for a given number
// of OpenMP threads.
template <class T>
void conv2d_backward(const Conv2dShape& s, const T* x, const T* w, const T* gy, T* gx, T* gw, T* gb,
                     ConvAlgorithm algorithm = ConvAlgorithm::automatic);

}  // namespace cpu
}  // namespace ssl::kernels
