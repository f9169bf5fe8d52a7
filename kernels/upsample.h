// Nearest-neighbour upsampling by an integer factor on contiguous NCHW tensors:
//   y[n][c][oy][ox] = x[n][c][oy / scale][ox / scale],   y [n, c, h*scale, w*scale]
// (PyTorch's nn.Upsample(scale_factor=s, mode="nearest") for an integer s). Its adjoint sums each
// scale x scale block of the output gradient back onto the pixel it was copied from.
#pragma once

#include <cstdint>

namespace ssl::kernels::cpu {

// Requires n, c, h, w >= 1 and scale >= 1 (otherwise throws ssl::Error); x [n, c, h, w],
// y [n, c, h*scale, w*scale]. Ensures y is fully written.
template <class T>
void upsample_nearest2d_forward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t scale, const T* x, T* y);

// gy [n, c, h*scale, w*scale] → gx [n, c, h, w], OVERWRITTEN. Each gx element sums its scale² sources in
// a fixed order (deterministic).
template <class T>
void upsample_nearest2d_backward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t scale, const T* gy,
                                 T* gx);

}  // namespace ssl::kernels::cpu
