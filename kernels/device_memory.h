// The CUDA backend's memory entry points, as the core's Storage uses them. Built without CUDA,
// `cuda_is_available()` is false and the others throw ssl::Error saying so (kernels/cuda/no_cuda.cpp).
#pragma once

#include <cstddef>

namespace ssl::kernels::cuda {

bool cuda_is_built();
bool cuda_is_available();  // built with CUDA and at least one device present
int device_count();
// Throws ssl::Error unless 0 <= device < device_count(), saying what is present.
void check_device(int device);
// Makes `device` current for the calling thread (kernels and library calls go to it).
void set_device(int device);

// Device memory from a caching allocator: a freed block goes back to a per-device pool (by rounded size)
// and is handed out again, so a training step that allocates the same sizes every step never calls
// cudaMalloc after the first one. Blocks are reused in the order of the device's one stream, so no
// synchronisation is needed. When cudaMalloc fails, the pool is returned to the driver and the call retried.
void* device_malloc(size_t nbytes, int device);
void device_free(void* ptr, int device);
// Bytes held by the pool of `device` (handed out + cached), for tests and `ssl bench`.
size_t device_bytes_reserved(int device);

// Page-locked host memory (cached the same way): copies from it to the device run at full bus speed (copy()
// below still returns only once they are done). The loader's batches use it when training on a GPU.
void* pinned_malloc(size_t nbytes);
void pinned_free(void* ptr);

enum class CopyKind { host_to_device, device_to_host, device_to_device };
// A copy on `device`'s stream; returns after the data has arrived, except from device to device (then the
// stream orders it before the kernels launched after it).
void copy(void* dst, const void* src, size_t nbytes, CopyKind kind, int device);
// Waits for all work queued on `device`'s stream.
void synchronize(int device);

}  // namespace ssl::kernels::cuda
