// Block-wide sums that give the same bits on every run: a fixed shuffle tree inside each warp, then the warp
// totals added in warp order. No atomics, so a reduction's result does not depend on scheduling.
#pragma once

#include "kernels/cuda/kernel.cuh"

namespace ssl::kernels::SSL_CUDA_NS {

// The sum of v over the threads of a 1-D block, returned to every thread. Requires: blockDim.x a multiple of
// 32 (whole warps, so the full shuffle mask is right), every thread of the block calling it (it contains
// __syncthreads), `warp_totals` shared memory of at least blockDim.x / 32 elements.
template <class T>
__device__ __forceinline__ T block_sum(T v, T* warp_totals) {
  const int lane = int(threadIdx.x % 32), warp = int(threadIdx.x / 32), warps = int(blockDim.x / 32);
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  if (lane == 0) warp_totals[warp] = v;
  __syncthreads();
  T total = T(0);
  for (int i = 0; i < warps; ++i) total += warp_totals[i];
  __syncthreads();  // warp_totals may be reused by the next call
  return total;
}

}  // namespace ssl::kernels::SSL_CUDA_NS
