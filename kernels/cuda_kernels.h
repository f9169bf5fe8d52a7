// Hand-written CUDA kernels callable from host code. Built only with the CUDA backend (SSL_WITH_CUDA);
// each has a CPU twin in kernels/cpu with the same meaning.
#pragma once

#include <cstdint>

namespace ssl::kernels::cuda {

// out[0..n) = value, on the current device (contiguous buffer). CPU twin: kernels::cpu::fill.
template <class T>
void fill(T* out, int64_t n, T value);

}  // namespace ssl::kernels::cuda
