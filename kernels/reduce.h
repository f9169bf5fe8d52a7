// Reductions over the middle axis of a contiguous [outer, r, inner] view: every reduction over one dim,
// or over a run of adjacent dims, has this form.
#pragma once

#include <cstdint>

namespace ssl::kernels::cpu {

// y[o, i] = Σ_k x[o, k, i]
template <class T>
void sum_middle(int64_t outer, int64_t r, int64_t inner, const T* x, T* y);

// Requires: r >= 1. values[o, i] = max_k x[o, k, i], indices[o, i] = the first k attaining it (NaN counts as
// the maximum).
template <class T>
void max_middle(int64_t outer, int64_t r, int64_t inner, const T* x, T* values, int64_t* indices);

// gx[o, k, i] = (k == indices[o, i]) ? gy[o, i] : 0 — the gradient of max_middle.
template <class T>
void max_middle_backward(int64_t outer, int64_t r, int64_t inner, const T* gy, const int64_t* indices, T* gx);

}  // namespace ssl::kernels::cpu
