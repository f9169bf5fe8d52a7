// Reductions over the middle axis of [outer, r, inner] on the GPU (contracts in kernels/cuda/reduce.h).
//
// One version, two layouts:
//   inner == 1 (a row of r contiguous values per output: sums over the last dims): one warp per row, lanes
//     reading with a stride of 32 (coalesced) and a butterfly of shuffles at the end.
//   inner > 1 (columns): one thread per output (o, i) walks k = 0..r-1; neighbouring threads read
//     neighbouring i, so every step is one coalesced row read. The order of the additions is the CPU's.
//   (A long r with few outputs, e.g. [1, 10^6, 2], would leave most of the GPU idle; a split over k with a
//   second pass is the next step if that shape shows up.)
// max_middle_backward: one thread per element of gx, each writing either gy or 0: no scatter, no races.
//
// Cost, typical shape: the bias gradient of a [512, 1024] activation, sum_middle(1, 512, 1024): 2.1 MB
// read, 4 KB written, 0.5 M additions: memory-bound, floor 0.7 us on an H100 (3 TB/s). max_middle of the
// same shape reads the same and writes 12 KB; its backward writes 2.1 MB and reads 12 KB: 0.7 us.
#include "kernels/common/scalar_math.h"
#include "kernels/cuda/kernel.cuh"
#include "kernels/cuda/reduce.h"
#include "kernels/cuda/reduce_block.cuh"

namespace ssl::kernels::SSL_CUDA_NS {
namespace {

constexpr int kThreads = 256;
constexpr int kWarpsPerBlock = kThreads / 32;

// A candidate for the maximum: its value and its k. `better` prefers a NaN, then the larger value, then the
// smaller k: applied in any grouping it picks the first k attaining the maximum, the first NaN if any.
template <class T>
struct Candidate {
  T value;
  int64_t index;
};
template <class T>
__device__ __forceinline__ Candidate<T> better(Candidate<T> a, Candidate<T> b) {
  const bool a_nan = hd::is_nan(a.value), b_nan = hd::is_nan(b.value);
  if (a_nan != b_nan) return a_nan ? a : b;
  if (!a_nan && a.value != b.value) return a.value > b.value ? a : b;
  return a.index <= b.index ? a : b;
}

template <class T>
__global__ void row_sum_kernel(int64_t rows, int64_t r, const T* x, T* y) {
  const int64_t row = int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (row >= rows) return;  // the whole warp
  double acc = 0;
  for (int64_t k = threadIdx.x % 32; k < r; k += 32) acc += double(x[row * r + k]);
  acc = warp_sum(acc);
  if (threadIdx.x % 32 == 0) y[row] = T(acc);
}

template <class T>
__global__ void column_sum_kernel(int64_t outer, int64_t r, int64_t inner, const T* x, T* y) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < outer * inner;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = e / inner, i = e % inner;
    const T* column = x + o * r * inner + i;
    double acc = 0;
    for (int64_t k = 0; k < r; ++k) acc += double(column[k * inner]);
    y[e] = T(acc);
  }
}

template <class T>
__global__ void row_max_kernel(int64_t rows, int64_t r, const T* x, T* values, int64_t* indices) {
  const int64_t row = int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (row >= rows) return;
  const int lane = threadIdx.x % 32;
  // Each lane's own first maximum over k = lane, lane + 32, ... (a lane past r offers -inf at k = r,
  // which loses to every real candidate).
  Candidate<T> best{hd::minus_infinity<T>(), r};
  for (int64_t k = lane; k < r; k += 32) best = better(best, Candidate<T>{x[row * r + k], k});
  for (int offset = 16; offset > 0; offset /= 2) {
    const Candidate<T> other{__shfl_xor_sync(kFullWarp, best.value, offset),
                             __shfl_xor_sync(kFullWarp, best.index, offset)};
    best = better(best, other);
  }
  if (lane == 0) {
    values[row] = best.value;
    indices[row] = best.index;
  }
}

template <class T>
__global__ void column_max_kernel(int64_t outer, int64_t r, int64_t inner, const T* x, T* values,
                                  int64_t* indices) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < outer * inner;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = e / inner, i = e % inner;
    const T* column = x + o * r * inner + i;
    Candidate<T> best{column[0], 0};
    for (int64_t k = 1; k < r && !hd::is_nan(best.value); ++k)
      best = better(best, Candidate<T>{column[k * inner], k});
    values[e] = best.value;
    indices[e] = best.index;
  }
}

template <class T>
__global__ void max_backward_kernel(int64_t outer, int64_t r, int64_t inner, const T* gy,
                                    const int64_t* indices, T* gx) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < outer * r * inner;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = e % inner, k = e / inner % r, o = e / (r * inner);
    const int64_t out = o * inner + i;
    gx[e] = indices[out] == k ? gy[out] : T(0);
  }
}

unsigned warp_rows_blocks(int64_t rows) { return unsigned((rows + kWarpsPerBlock - 1) / kWarpsPerBlock); }

}  // namespace

template <class T>
void sum_middle(int64_t outer, int64_t r, int64_t inner, const T* x, T* y) {
  if (outer * inner == 0) return;
  if (inner == 1)
    launch(row_sum_kernel<T>, warp_rows_blocks(outer), kThreads, 0, outer, r, x, y);
  else
    launch(column_sum_kernel<T>, blocks_for(outer * inner, kThreads), kThreads, 0, outer, r, inner, x, y);
}

template <class T>
void max_middle(int64_t outer, int64_t r, int64_t inner, const T* x, T* values, int64_t* indices) {
  if (outer * inner == 0 || r == 0) return;
  if (inner == 1)
    launch(row_max_kernel<T>, warp_rows_blocks(outer), kThreads, 0, outer, r, x, values, indices);
  else
    launch(column_max_kernel<T>, blocks_for(outer * inner, kThreads), kThreads, 0, outer, r, inner, x, values,
           indices);
}

template <class T>
void max_middle_backward(int64_t outer, int64_t r, int64_t inner, const T* gy, const int64_t* indices,
                         T* gx) {
  const int64_t n = outer * r * inner;
  if (n == 0) return;
  launch(max_backward_kernel<T>, blocks_for(n, kThreads), kThreads, 0, outer, r, inner, gy, indices, gx);
}

#define SSL_INSTANTIATE(T)                                                        \
  template void sum_middle<T>(int64_t, int64_t, int64_t, const T*, T*);           \
  template void max_middle<T>(int64_t, int64_t, int64_t, const T*, T*, int64_t*); \
  template void max_middle_backward<T>(int64_t, int64_t, int64_t, const T*, const int64_t*, T*);
SSL_INSTANTIATE(float)
SSL_INSTANTIATE(double)
#undef SSL_INSTANTIATE

}  // namespace ssl::kernels::SSL_CUDA_NS
