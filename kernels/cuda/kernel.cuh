// The prelude of every hand-written kernel file: the runtime API (api.h), launching, and the small helpers
// all kernels share. Everything here means the same on the GPU and in the SIMT emulation.
#pragma once

#include <cstdint>

#include "core/error.h"
#include "kernels/cuda/api.h"

namespace ssl::kernels::SSL_CUDA_NS {

// kernel<<<grid, block, shared_bytes, stream()>>>(args...), checked. Written as a function so that the
// emulation can run the same call (triple-chevron syntax is not C++). Arguments convert to the kernel's
// parameter types as in a call.
template <class... Params, class... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes, Args... args) {
#ifdef SSL_SIMT_EMULATION
  simt::launch(grid, block, shared_bytes, [&] { kernel(Params(args)...); });
#else
  // clang-format would split the chevrons, which nvcc then rejects.
  // clang-format off
  kernel<<<grid, block, shared_bytes, stream()>>>(Params(args)...);
  // clang-format on
  SSL_CUDA_CHECK(cudaGetLastError());
#endif
}

// Blocks of `threads` for a grid-stride loop over n items, capped so that huge n reuse threads.
inline unsigned blocks_for(int64_t n, int threads, int64_t cap = 65535) {
  const int64_t b = (n + threads - 1) / threads;
  return unsigned(b < 1 ? 1 : (b > cap ? cap : b));
}

// Blocks of `threads` for a kernel whose thread handles one item and returns (no loop): one thread per
// item, never capped, or the items past the cap would be left unwritten.
inline unsigned blocks_covering(int64_t n, int threads) {
  const int64_t b = (n + threads - 1) / threads;
  SSL_CHECK(b <= 0x7fffffff, "kernel launch: ", n, " items need more than 2^31 - 1 blocks of ", threads);
  return unsigned(b < 1 ? 1 : b);
}

}  // namespace ssl::kernels::SSL_CUDA_NS

// The block's dynamic shared memory (the launch's shared_bytes) as a T*.
#ifdef SSL_SIMT_EMULATION
#define SSL_DYNAMIC_SHARED(T, name) T* name = reinterpret_cast<T*>(::ssl::simt::dynamic_shared_memory())
#else
#define SSL_DYNAMIC_SHARED(T, name)                          \
  extern __shared__ __align__(16) unsigned char ssl_smem_[]; \
  T* name = reinterpret_cast<T*>(ssl_smem_)
#endif
