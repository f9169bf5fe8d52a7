// Device memory and copies for the CUDA backend (a caching allocator comes with the full backend).
#include "kernels/cuda/check.cuh"
#include "kernels/device_memory.h"

namespace ssl::kernels::cuda {

bool cuda_is_built() { return true; }

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver / no device" status
    return 0;
  }
  return n;
}

bool cuda_is_available() { return device_count() > 0; }

void* device_malloc(size_t nbytes, int device) {
  SSL_CHECK(device >= 0 && device < device_count(), "cuda: device ", device, " requested but ",
            device_count(), " CUDA device(s) are present");
  SSL_CUDA_CHECK(cudaSetDevice(device));
  void* p = nullptr;
  SSL_CUDA_CHECK(cudaMalloc(&p, nbytes));
  return p;
}

void device_free(void* ptr, int device) {
  if (!ptr) return;
  cudaSetDevice(device);
  cudaFree(ptr);  // never throws from a destructor path
}

void copy(void* dst, const void* src, size_t nbytes, CopyKind kind) {
  const cudaMemcpyKind k = kind == CopyKind::host_to_device   ? cudaMemcpyHostToDevice
                           : kind == CopyKind::device_to_host ? cudaMemcpyDeviceToHost
                                                              : cudaMemcpyDeviceToDevice;
  SSL_CUDA_CHECK(cudaMemcpy(dst, src, nbytes, k));
}

}  // namespace ssl::kernels::cuda
