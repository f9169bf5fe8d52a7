// Temporary device memory for a launcher's intermediate results (per-block partial sums): taken from the
// caching allocator on the GPU and returned when the launcher returns. That is safe before the kernels have
// run, because the allocator hands a block out again only to work queued later on the same stream. The
// emulation runs every launch synchronously and uses its own cudaMalloc.
#pragma once

#include <cstdint>

#include "kernels/cuda/api.h"
#ifndef SSL_SIMT_EMULATION
#include "kernels/device_memory.h"
#endif

namespace ssl::kernels::SSL_CUDA_NS {

template <class T>
class Scratch {
 public:
  explicit Scratch(int64_t n) {
    const size_t bytes = sizeof(T) * size_t(n > 0 ? n : 1);
#ifdef SSL_SIMT_EMULATION
    SSL_CUDA_CHECK(cudaMalloc(&ptr_, bytes));
#else
    SSL_CUDA_CHECK(cudaGetDevice(&device_));
    ptr_ = static_cast<T*>(cuda::device_malloc(bytes, device_));
#endif
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() {
#ifdef SSL_SIMT_EMULATION
    cudaFree(ptr_);
#else
    cuda::device_free(ptr_, device_);
#endif
  }
  T* get() const { return ptr_; }

 private:
  T* ptr_ = nullptr;
  int device_ = 0;
};

}  // namespace ssl::kernels::SSL_CUDA_NS
