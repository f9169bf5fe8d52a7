// The CUDA backend's memory entry points. Built without CUDA, `cuda_is_available()` is false and the others
// throw ssl::Error saying so (kernels/cuda/no_cuda.cpp).
#pragma once

#include <cstddef>

namespace ssl::kernels::cuda {

bool cuda_is_built();
bool cuda_is_available();  // built with CUDA and at least one device present
int device_count();
void* device_malloc(size_t nbytes, int device);
void device_free(void* ptr, int device);
enum class CopyKind { host_to_device, device_to_host, device_to_device };
void copy(void* dst, const void* src, size_t nbytes, CopyKind kind);

}  // namespace ssl::kernels::cuda
