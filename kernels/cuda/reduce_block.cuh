// Sums and maxima across a warp and across a block, and the deterministic mean of per-block partial sums:
// the building blocks of row kernels (softmax family, NT-Xent) and of losses that return a scalar.
//
// Every reduction here combines values in a fixed order that depends only on the launch shape, never on
// timing, so a result has the same bits on every run (no floating-point atomics).
#pragma once

#include <cstdint>

#include "kernels/cuda/kernel.cuh"

namespace ssl::kernels::SSL_CUDA_NS {

constexpr unsigned kFullWarp = 0xffffffffu;

// A butterfly over `width` lanes (a power of two <= 32): every lane ends with the total of its segment,
// the same bits in every lane (a + b and b + a round alike). All lanes of the warp must call it together.
template <class T>
__device__ __forceinline__ T warp_sum(T v, int width = warpSize) {
  for (int offset = width / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(kFullWarp, v, offset, width);
  return v;
}
template <class T>
__device__ __forceinline__ T warp_max(T v, int width = warpSize) {
  for (int offset = width / 2; offset > 0; offset /= 2) {
    const T other = __shfl_xor_sync(kFullWarp, v, offset, width);
    v = v < other ? other : v;
  }
  return v;
}

// The total over the block, returned to every thread. Requires blockDim.x a multiple of 32 (1D block) and
// every thread of the block to call it (it contains __syncthreads). Warps are added in warp order.
template <class T>
__device__ T block_sum(T v) {
  __shared__ T per_warp[32];
  v = warp_sum(v);
  __syncthreads();  // a previous call's readers are done with per_warp
  if (threadIdx.x % warpSize == 0) per_warp[threadIdx.x / warpSize] = v;
  __syncthreads();
  T total = per_warp[0];
  for (unsigned w = 1; w < blockDim.x / warpSize; ++w) total += per_warp[w];
  return total;
}
template <class T>
__device__ T block_max(T v) {
  __shared__ T per_warp[32];
  v = warp_max(v);
  __syncthreads();
  if (threadIdx.x % warpSize == 0) per_warp[threadIdx.x / warpSize] = v;
  __syncthreads();
  T best = per_warp[0];
  for (unsigned w = 1; w < blockDim.x / warpSize; ++w) best = best < per_warp[w] ? per_warp[w] : best;
  return best;
}

namespace detail {
// *out = (partials[0] + ... + partials[count-1]) / divisor, by one block: thread t adds partials t,
// t + blockDim.x, ... in order, then block_sum. The grouping depends on count only: deterministic.
template <class T>
__global__ void mean_of_partials_kernel(const double* partials, int64_t count, double divisor, T* out) {
  double acc = 0;
  for (int64_t k = threadIdx.x; k < count; k += blockDim.x) acc += partials[k];
  acc = block_sum(acc);
  if (threadIdx.x == 0) *out = T(acc / divisor);
}
}  // namespace detail

// Queues the reduction of `count` per-block partial sums (double, on the device) to their mean in *out.
template <class T>
void mean_of_partials(const double* partials, int64_t count, double divisor, T* out) {
  launch(detail::mean_of_partials_kernel<T>, 1, 256, 0, partials, count, divisor, out);
}

}  // namespace ssl::kernels::SSL_CUDA_NS
