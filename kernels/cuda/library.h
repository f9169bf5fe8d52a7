// The CUDA backend's library-backed kernels: GEMM through cuBLAS, convolutions through cuDNN. Same names and
// parameters as the CPU twins (kernels/gemm.h, kernels/conv.h, kernels/conv_transpose.h), on device pointers,
// queued on the device's stream(). Built only with the CUDA backend (kernels/cuda/runtime); a library is the
// right tool here: cuBLAS's GEMM runs near the device's peak, and cuDNN picks among many convolution
// algorithms per shape. They are not part of the SIMT emulation, so their tests live in tests/gpu.
#pragma once

#include <cstdint>

#include "kernels/conv.h"
#include "kernels/conv_transpose.h"

namespace ssl::kernels::cuda {

// Row-major C = alpha * op(A) op(B) + beta * C, as kernels::cpu::gemm. FP32 runs in full FP32 unless
// set_allow_tf32(true) lets cuBLAS use TF32 tensor cores (10-bit mantissa products, ~8x faster on Hopper).
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc);
void set_allow_tf32(bool allow);
bool allow_tf32();

// True when the build found cuDNN; the conv functions below throw ssl::Error otherwise.
bool cudnn_is_built();

// As kernels::cpu::conv2d_forward/backward (bias, gx, gw, gb may be nullptr; gradients are overwritten).
// The algorithm of each direction is chosen once per shape (cuDNN's heuristics: the first deterministic one
// that fits the workspace limit, else the first that fits) and cached.
template <class T>
void conv2d_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y);
template <class T>
void conv2d_backward(const Conv2dShape& s, const T* x, const T* w, const T* gy, T* gx, T* gw, T* gb);

// As kernels::cpu::conv_transpose2d_forward/backward: the transposed convolution is cuDNN's backward-data
// of the convolution with the roles of input and output exchanged.
template <class T>
void conv_transpose2d_forward(const ConvTranspose2dShape& s, const T* x, const T* w, const T* bias, T* y);
template <class T>
void conv_transpose2d_backward(const ConvTranspose2dShape& s, const T* x, const T* w, const T* gy, T* gx,
                               T* gw, T* gb);

}  // namespace ssl::kernels::cuda
