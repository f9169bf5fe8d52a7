// Temporary device memory for a kernel's host entry point (per-block partial sums, a naive version's
// intermediate matrix). On the GPU it comes from the caching allocator (kernels/device_memory.h), whose
// blocks are reused in the order of the device's one stream: freeing it right after queueing the kernels
// that use it is safe and never synchronises. The emulation, synchronous anyway, uses its cudaMalloc.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cuda/api.h"
#ifndef SSL_SIMT_EMULATION
#include "kernels/device_memory.h"
#endif

namespace ssl::kernels::SSL_CUDA_NS {

template <class T>
class DeviceScratch {
 public:
  explicit DeviceScratch(int64_t n) {
    const size_t bytes = sizeof(T) * size_t(n > 0 ? n : 1);
#ifdef SSL_SIMT_EMULATION
    SSL_CUDA_CHECK(cudaMalloc(&ptr_, bytes));
#else
    SSL_CUDA_CHECK(cudaGetDevice(&device_));
    ptr_ = static_cast<T*>(device_malloc(bytes, device_));
#endif
  }
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;
  ~DeviceScratch() {
#ifdef SSL_SIMT_EMULATION
    cudaFree(ptr_);
#else
    device_free(ptr_, device_);
#endif
  }
  T* get() const { return ptr_; }

 private:
  T* ptr_ = nullptr;
  [[maybe_unused]] int device_ = 0;  // the device it came from (GPU build only)
};

}  // namespace ssl::kernels::SSL_CUDA_NS
