// Element-wise losses on the GPU, the CUDA twins of kernels::cpu in kernels/losses.h (same names and
// meaning; data pointers are device pointers; queued on stream(), nothing waits for the device).
#pragma once

#include <cstdint>

#include "kernels/cuda/namespace.h"

namespace ssl::kernels::SSL_CUDA_NS {

// Requires: n >= 1 (throws ssl::Error otherwise); x, t [n]; out a device scalar.
// Ensures: *out = mean_i [max(x_i, 0) − x_i t_i + log(1 + e^{−|x_i|})], each term in T, the sum in double
// in a fixed order (deterministic).
template <class T>
void bce_with_logits_forward(int64_t n, const T* x, const T* t, T* out);
// Requires: grad_loss a device scalar. Ensures: gx = (sigmoid(x) − t) · grad_loss / n and
// gt = −x · grad_loss / n; either may be nullptr (not computed).
template <class T>
void bce_with_logits_backward(int64_t n, const T* x, const T* t, const T* grad_loss, T* gx, T* gt);

}  // namespace ssl::kernels::SSL_CUDA_NS
