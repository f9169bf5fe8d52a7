// Hand-written CUDA kernels callable from host code, for the kernels that have no family header of their
// own. Each has a CPU twin in kernels/cpu with the same meaning. Declared in SSL_CUDA_NS: ssl::kernels::cuda
// for the GPU build, ssl::kernels::cuda_emulated for the SIMT emulation (kernels/cuda/api.h).
#pragma once

#include <cstdint>

#include "kernels/cuda/namespace.h"

namespace ssl::kernels::SSL_CUDA_NS {

// out[0..n) = value, on the current device (contiguous buffer), on stream(). CPU twin: kernels::cpu::fill.
template <class T>
void fill(T* out, int64_t n, T value);

}  // namespace ssl::kernels::SSL_CUDA_NS
