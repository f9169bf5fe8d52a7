// The simplest hand-written kernel: fill a contiguous buffer with one value (grid-stride loop).
#include "kernels/cuda/kernel.cuh"
#include "kernels/cuda_kernels.h"

namespace ssl::kernels::SSL_CUDA_NS {

namespace {
template <class T>
__global__ void fill_kernel(T* out, int64_t n, T value) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = value;
}
}  // namespace

template <class T>
void fill(T* out, int64_t n, T value) {
  if (n == 0) return;
  const int threads = 256;
  launch(fill_kernel<T>, blocks_for(n, threads), threads, 0, out, n, value);
}

template void fill<float>(float*, int64_t, float);
template void fill<double>(double*, int64_t, double);
template void fill<int64_t>(int64_t*, int64_t, int64_t);

}  // namespace ssl::kernels::SSL_CUDA_NS
