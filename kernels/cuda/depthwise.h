// CUDA depthwise 2-D convolution (groups == c_in == c_out), the GPU twin of kernels/depthwise.h: the same
// functions, names and contracts, all data pointers being device pointers. Versions
// (kernels/cuda/depthwise.cu says what each changes and what the hardware floor is): _v1 naive, _v2 kernel
// size and stride as template parameters with the bounds hoisted, _v3 tiles of the input (or, for gx, of gy)
// in shared memory. The unsuffixed functions call _v3.
#pragma once

#include "kernels/conv.h"
#include "kernels/cuda/namespace.h"

namespace ssl::kernels::SSL_CUDA_NS {

// Requires: a valid depthwise shape (as kernels::cpu::depthwise_conv2d_forward; otherwise throws ssl::Error
//           before launching); x [n, c, h, w], w [c, 1, kh, kw], bias [c] or nullptr, y [n, c, out_h, out_w].
// Ensures:  y is fully written (queued on stream()).
template <class T>
void depthwise_conv2d_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y);
template <class T>
void depthwise_conv2d_forward_v1(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y);
template <class T>
void depthwise_conv2d_forward_v2(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y);
template <class T>
void depthwise_conv2d_forward_v3(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y);

// Gradients given gy [n, c, out_h, out_w]. gx [n, c, h, w], gw [c, 1, kh, kw] and gb [c] may each be nullptr;
// those given are OVERWRITTEN. x is only read when gw is wanted, w only when gx is.
// gw and gb are deterministic: per-block partial sums in a fixed thread order, then a fixed-order sum of the
// partials (no float atomics), so two runs give the same bits.
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

}  // namespace ssl::kernels::SSL_CUDA_NS
