// The host emulation of the part of CUDA that our hand-written kernels use. The kernel sources in
// kernels/cuda/*.cu are compiled a second time by the host compiler with this header in place of
// <cuda_runtime.h>, so the code that would run on the GPU runs in CI, on machines without one, and is
// compared there with its CPU twin (tests/cuda). Build: SSL_SIMT_EMULATION defined (CMake target
// ssl_cuda_emulated).
//
// How a launch runs (simt.cpp): blockDim threads are fibers on the launching host thread, and together they
// execute the grid's blocks one after another. For each block every thread sets its blockIdx/threadIdx and
// calls the kernel; a thread runs until it waits at a barrier or returns, then the next one runs. Warps run
// one at a time, each as far as it gets alone (to a __syncthreads), in ascending and descending order by
// turns, so a missing __syncthreads gives a wrong result on every run, not now and then, whether it lets a
// warp read what others have not written yet or overwrite what others have not read yet.
// __syncthreads() is a barrier over the block's threads that have not returned yet; a warp shuffle writes
// each lane's value into a per-warp table between two barriers over the warp; `__shared__` variables are
// function-local statics (one block runs at a time, so they are that block's shared memory); atomics are
// std::atomic_ref. A barrier that some threads never reach is reported as an error. Device memory is host
// memory and every call is synchronous.
//
// Not emulated, so our kernels do not use them: warp-synchronous code that relies on lockstep execution
// without __syncwarp or a shuffle, cooperative groups, textures, clusters, async copies, timing.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>

// ---- qualifiers ----------------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)
#define __align__(n) alignas(n)

// ---- built-in variables ----------------------------------------------------------------------------------
struct uint3 {
  unsigned x = 0, y = 0, z = 0;
};
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;
constexpr int warpSize = 32;

namespace ssl::simt {

// Runs `body` (the kernel applied to its arguments) over the grid as described above; returns when every
// block has finished. Launches are serialised (a process-wide lock), as function-static shared memory
// requires. Throws ssl::Error for an empty or oversized block, or for more dynamic shared memory than the
// 48 KB a GPU gives a kernel that has not opted in to more.
void launch(dim3 grid, dim3 block, size_t dynamic_shared_bytes, const std::function<void()>& body);

void sync_block();  // __syncthreads
void sync_warp();   // __syncwarp: a barrier over the calling thread's warp
// The calling thread's lane (0..31) and the number of threads of its block.
int lane();
// Each lane of the calling warp offers `bits`; returns what lane `source` offered (own value if `source`
// is outside the warp or did not take part). Every active lane of the warp must call it together.
uint64_t exchange_in_warp(uint64_t bits, int source);
void* dynamic_shared_memory();

template <class T>
T shuffle_from(T value, int source) {
  static_assert(sizeof(T) <= sizeof(uint64_t), "shuffles move at most 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  const uint64_t got = exchange_in_warp(bits, source);
  T out;
  std::memcpy(&out, &got, sizeof(T));
  return out;
}

}  // namespace ssl::simt

// ---- synchronisation and warp shuffles -------------------------------------------------------------------
inline void __syncthreads() { ssl::simt::sync_block(); }
inline void __syncwarp(unsigned = 0xffffffffu) { ssl::simt::sync_warp(); }

// `width` splits the warp into segments of that many lanes (a power of two); lanes read within their segment.
template <class T>
T __shfl_sync(unsigned, T value, int src_lane, int width = warpSize) {
  const int lane = ssl::simt::lane();
  return ssl::simt::shuffle_from(value, (lane & ~(width - 1)) + (src_lane & (width - 1)));
}
template <class T>
T __shfl_xor_sync(unsigned, T value, int lane_mask, int width = warpSize) {
  const int lane = ssl::simt::lane(), source = lane ^ lane_mask;
  const bool same_segment = (source & ~(width - 1)) == (lane & ~(width - 1));
  return ssl::simt::shuffle_from(value, same_segment ? source : lane);
}
template <class T>
T __shfl_down_sync(unsigned, T value, unsigned delta, int width = warpSize) {
  const int lane = ssl::simt::lane(), source = lane + int(delta);
  const bool same_segment = (source & ~(width - 1)) == (lane & ~(width - 1));
  return ssl::simt::shuffle_from(value, same_segment ? source : lane);
}
template <class T>
T __shfl_up_sync(unsigned, T value, unsigned delta, int width = warpSize) {
  const int lane = ssl::simt::lane(), source = lane - int(delta);
  const bool same_segment = source >= 0 && (source & ~(width - 1)) == (lane & ~(width - 1));
  return ssl::simt::shuffle_from(value, same_segment ? source : lane);
}

// ---- atomics ---------------------------------------------------------------------------------------------
template <class T>
T atomicAdd(T* address, T value) {
  return std::atomic_ref<T>(*address).fetch_add(value);
}
template <class T>
T atomicMax(T* address, T value) {
  std::atomic_ref<T> a(*address);
  T seen = a.load();
  while (seen < value && !a.compare_exchange_weak(seen, value)) {
  }
  return seen;
}
template <class T>
T atomicCAS(T* address, T expected, T desired) {
  std::atomic_ref<T>(*address).compare_exchange_strong(expected, desired);
  return expected;  // the old value, whether or not it was replaced
}
template <class T>
T atomicExch(T* address, T value) {
  return std::atomic_ref<T>(*address).exchange(value);
}

// ---- device math that the host library lacks under these names
// ---------------------------------------------
using std::max;
using std::min;
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return std::min(1.0f, std::max(0.0f, x)); }
template <class T>
T __ldg(const T* p) {
  return *p;
}

// ---- the runtime API, on host memory -------------------------------------------------------------------
enum cudaError_t { cudaSuccess = 0, cudaErrorMemoryAllocation = 2, cudaErrorInvalidValue = 1 };
enum cudaMemcpyKind {
  cudaMemcpyHostToHost,
  cudaMemcpyHostToDevice,
  cudaMemcpyDeviceToHost,
  cudaMemcpyDeviceToDevice,
  cudaMemcpyDefault
};
struct CUstream_st;
using cudaStream_t = CUstream_st*;

cudaError_t cudaMalloc(void** ptr, size_t nbytes);
template <class T>
cudaError_t cudaMalloc(T** ptr, size_t nbytes) {
  return cudaMalloc(reinterpret_cast<void**>(ptr), nbytes);
}
cudaError_t cudaFree(void* ptr);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t nbytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t nbytes, cudaMemcpyKind kind,
                            cudaStream_t stream = nullptr);
cudaError_t cudaMemset(void* ptr, int value, size_t nbytes);
cudaError_t cudaMemsetAsync(void* ptr, int value, size_t nbytes, cudaStream_t stream = nullptr);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaGetLastError();
const char* cudaGetErrorString(cudaError_t error);
