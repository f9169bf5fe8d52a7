// CUDA pooling, the GPU twin of kernels/pool.h: max, average and adaptive average, forward and backward, the
// same names, shapes and contracts, data pointers on the device (kernels/cuda/pool.cu). Shapes are checked on
// the host (ssl::Error) before anything is queued.
#pragma once

#include <cstdint>

#include "kernels/cuda/namespace.h"
#include "kernels/pool.h"

namespace ssl::kernels::SSL_CUDA_NS {

// y = the largest input of each window (padding never chosen, NaN propagates, ties keep the first cell in
// row-major order); argmax [n, c, out_h, out_w] its flat index iy*w + ix in the input plane.
template <class T>
void max_pool2d_forward(const Pool2dShape& s, const T* x, T* y, int64_t* argmax);
// gx (OVERWRITTEN) = sum of gy over the outputs whose argmax is that input. Unlike the CPU, which throws, an
// argmax outside its plane (device data, not checked on the host) is ignored.
template <class T>
void max_pool2d_backward(const Pool2dShape& s, const T* gy, const int64_t* argmax, T* gx);

// Mean over each window, padding counted as zeros (count_include_pad).
template <class T>
void avg_pool2d_forward(const Pool2dShape& s, const T* x, T* y);
template <class T>
void avg_pool2d_backward(const Pool2dShape& s, const T* gy, T* gx);

// PyTorch's adaptive bins [floor(i*h/out_h), ceil((i+1)*h/out_h)); requires all sizes >= 1.
template <class T>
void adaptive_avg_pool2d_forward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t out_h, int64_t out_w,
                                 const T* x, T* y);
template <class T>
void adaptive_avg_pool2d_backward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t out_h, int64_t out_w,
                                  const T* gy, T* gx);

}  // namespace ssl::kernels::SSL_CUDA_NS
