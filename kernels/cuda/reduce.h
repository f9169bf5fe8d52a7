// Reductions over the middle axis of a contiguous [outer, r, inner] view on the GPU: the CUDA twins of
// kernels::cpu in kernels/reduce.h (same names and meaning; data pointers are device pointers; queued on
// stream(), nothing waits for the device). Deterministic.
#pragma once

#include <cstdint>

#include "kernels/cuda/namespace.h"

namespace ssl::kernels::SSL_CUDA_NS {

// Ensures: y[o, i] = Σ_k x[o, k, i], accumulated in double as on the CPU. Column sums (inner > 1) add in the
// CPU's order (k ascending), so their bits match the CPU's.
template <class T>
void sum_middle(int64_t outer, int64_t r, int64_t inner, const T* x, T* y);

// Requires: r >= 1. Ensures: values[o, i] = max_k x[o, k, i] and indices[o, i] = the first k attaining it
// (a NaN counts as the maximum: the first NaN wins), as on the CPU.
template <class T>
void max_middle(int64_t outer, int64_t r, int64_t inner, const T* x, T* values, int64_t* indices);

// Requires: indices from max_middle. Ensures: gx[o, k, i] = (k == indices[o, i]) ? gy[o, i] : 0, every
// element of gx written.
template <class T>
void max_middle_backward(int64_t outer, int64_t r, int64_t inner, const T* gy, const int64_t* indices, T* gx);

}  // namespace ssl::kernels::SSL_CUDA_NS
