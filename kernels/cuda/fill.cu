// The first hand-written CUDA kernel: fill a contiguous buffer with one value (grid-stride loop).
#include <cstdint>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda_kernels.h"

namespace ssl::kernels::cuda {

namespace {
template <class T>
__global__ void fill_kernel(T* out, int64_t n, T value) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    out[i] = value;
  }
}
}  // namespace

template <class T>
void fill(T* out, int64_t n, T value) {
  if (n == 0) return;
  const int threads = 256;
  const int blocks = int(std::min<int64_t>((n + threads - 1) / threads, 65535));
  fill_kernel<T><<<blocks, threads>>>(out, n, value);
  SSL_CUDA_CHECK(cudaGetLastError());
}

template void fill<float>(float*, int64_t, float);
template void fill<double>(double*, int64_t, double);
template void fill<int64_t>(int64_t*, int64_t, int64_t);

}  // namespace ssl::kernels::cuda
