// CUDA nearest-neighbour upsampling by an integer factor, the GPU twin of kernels/upsample.h: the same names,
// shapes and contracts, data pointers on the device (kernels/cuda/upsample.cu).
#pragma once

#include <cstdint>

#include "kernels/cuda/namespace.h"

namespace ssl::kernels::SSL_CUDA_NS {

// Requires n, c, h, w >= 1 and scale >= 1 (otherwise throws ssl::Error); x [n, c, h, w],
// y [n, c, h*scale, w*scale], y[..][oy][ox] = x[..][oy / scale][ox / scale]. Ensures y is fully written.
template <class T>
void upsample_nearest2d_forward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t scale, const T* x, T* y);

// gx [n, c, h, w] (OVERWRITTEN) = the sum of each scale x scale block of gy, in row-major order as on the CPU
// (deterministic, bit-for-bit the CPU's result).
template <class T>
void upsample_nearest2d_backward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t scale, const T* gy,
                                 T* gx);

}  // namespace ssl::kernels::SSL_CUDA_NS
