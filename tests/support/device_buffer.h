// A typed buffer in device memory for kernel tests: filled from a host vector (or poisoned with NaN), read
// back as one. The same code serves the GPU suite and the SIMT emulation, whose device memory is host memory.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/cuda/api.h"

namespace ssl::test {

template <class T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(int64_t n) : n_(n) { SSL_CUDA_CHECK(cudaMalloc(&ptr_, sizeof(T) * size_t(n))); }
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(int64_t(host.size())) {
    SSL_CUDA_CHECK(cudaMemcpy(ptr_, host.data(), sizeof(T) * host.size(), cudaMemcpyHostToDevice));
    // From pageable memory cudaMemcpy may return before the DMA lands, and the kernels run on a
    // non-blocking stream that does not wait for the legacy one: wait here, so a kernel reads these values.
    SSL_CUDA_CHECK(cudaDeviceSynchronize());
  }
  // A buffer whose every element is NaN (or the largest value for integers), so that an element a kernel
  // forgets to write fails the comparison.
  static DeviceBuffer poisoned(int64_t n) {
    const T poison = std::numeric_limits<T>::has_quiet_NaN ? std::numeric_limits<T>::quiet_NaN()
                                                           : std::numeric_limits<T>::max();
    return DeviceBuffer(std::vector<T>(size_t(n), poison));
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), n_(o.n_) { o.ptr_ = nullptr; }
  ~DeviceBuffer() { cudaFree(ptr_); }

  T* get() const { return ptr_; }
  int64_t size() const { return n_; }
  std::vector<T> download() const {
    std::vector<T> host(static_cast<size_t>(n_));
    SSL_CUDA_CHECK(cudaDeviceSynchronize());
    SSL_CUDA_CHECK(cudaMemcpy(host.data(), ptr_, sizeof(T) * host.size(), cudaMemcpyDeviceToHost));
    return host;
  }

 private:
  T* ptr_ = nullptr;
  int64_t n_ = 0;
};

}  // namespace ssl::test
