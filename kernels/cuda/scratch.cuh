// Temporary device memory for a kernel's intermediate results (e.g. per-block partial sums), released when
// the object goes out of scope. On the GPU it comes from the caching allocator (kernels/device_memory.h),
// which hands blocks out again in the order of the device's one stream: releasing it right after queueing the
// kernels that use it is safe and needs no synchronisation. In the emulation every call is synchronous, so
// cudaMalloc/cudaFree (host memory) serve.
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
    const size_t bytes = sizeof(T) * size_t(n < 1 ? 1 : n);
#ifdef SSL_SIMT_EMULATION
    SSL_CUDA_CHECK(cudaMalloc(&ptr_, bytes));
#else
    SSL_CUDA_CHECK(cudaGetDevice(&device_));
    ptr_ = static_cast<T*>(device_malloc(bytes, device_));
#endif
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() {
#ifdef SSL_SIMT_EMULATION
    cudaFree(ptr_);
#else
    device_free(ptr_, device_);
#endif
  }
  T* get() const { return ptr_; }

 private:
  T* ptr_ = nullptr;
  int device_ = 0;
};

}  // namespace ssl::kernels::SSL_CUDA_NS
