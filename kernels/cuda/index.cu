// Indexing kernels: index_select / index_add on [outer, size, inner] views, gather / scatter_add along one
// dim (contracts and the versions of the *_add ops in kernels/cuda/index.h).
//
// Both pairs are one read or scatter of a slab of data through an index, so the view [before, at, after] (or
// [outer, k, inner]) is all a kernel needs; the host computes it from the shape.
//   index_select, gather: one thread per output element (consecutive threads read consecutive `inner`
//     elements of the same source row, so loads coalesce when inner is large).
//   index_add_v1, scatter_add_v1: one thread per column (o, i); it walks j = 0..k−1 in order, so no two
//     threads write one element and the sums are the CPU's, bit for bit. Parallelism outer·inner.
//   index_add_v2, scatter_add_v2: one thread per gy element, atomicAdd into gx. Parallelism outer·k·inner.
//
// The floor, for a typical shape (selecting k = 512 rows of a [4096, 128] float memory bank, and its
// index_add backward): bytes ≈ 2 × 512 × 128 × 4 = 0.5 MB (+ 4 KB of indices), index_add ≈ 0.8 MB (gx rows
// read and written): 0.2–0.3 µs at 3 TB/s, so a launch (~3 µs) costs more than the data; no flops. gather for
// a [256, 1000] float index of int64 indices: 2 MB of indices + 1 MB read + 1 MB written ≈ 1.3 µs.
#include <type_traits>

#include "kernels/cuda/index.h"
#include "kernels/cuda/kernel.cuh"

namespace ssl::kernels::SSL_CUDA_NS {

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ int64_t first_index() { return blockIdx.x * int64_t(blockDim.x) + threadIdx.x; }
__device__ __forceinline__ int64_t grid_stride() { return int64_t(gridDim.x) * blockDim.x; }

template <class T>
__device__ __forceinline__ void atomic_add(T* address, T value) {
  atomicAdd(address, value);
}
// CUDA has no atomicAdd for signed 64-bit integers; two's complement makes the unsigned one the same.
__device__ __forceinline__ void atomic_add(int64_t* address, int64_t value) {
  atomicAdd(reinterpret_cast<unsigned long long*>(address), static_cast<unsigned long long>(value));
}

// A contiguous tensor seen as [before, at, after] around one dim (at: the index's extent along it).
struct Split {
  int64_t before, at, after;
};
Split split(int64_t ndim, const int64_t* shape, int64_t dim) {
  Split s{1, shape[dim], 1};
  for (int64_t d = 0; d < dim; ++d) s.before *= shape[d];
  for (int64_t d = dim + 1; d < ndim; ++d) s.after *= shape[d];
  return s;
}

// y[b, j, a] = x[b, index[pos], a] with pos = (b·at + j)·after + a (per_row: the index has one entry per j,
// as index_select's; otherwise one per element, as gather's).
template <class T, bool PerRow>
__global__ void select_kernel(Split s, int64_t x_size, const T* x, const int64_t* index, T* y) {
  const int64_t total = s.before * s.at * s.after;
  for (int64_t pos = first_index(); pos < total; pos += grid_stride()) {
    const int64_t a = pos % s.after, j = pos / s.after % s.at, b = pos / (s.after * s.at);
    const int64_t idx = index[PerRow ? j : pos];
    y[pos] = idx >= 0 && idx < x_size ? x[(b * x_size + idx) * s.after + a] : T(0);
  }
}

// _v1: one thread per column (b, a), walking j in order.
template <class T, bool PerRow>
__global__ void add_columns_kernel(Split s, int64_t x_size, T* gx, const int64_t* index, const T* gy) {
  const int64_t columns = s.before * s.after;
  for (int64_t c = first_index(); c < columns; c += grid_stride()) {
    const int64_t a = c % s.after, b = c / s.after;
    for (int64_t j = 0; j < s.at; ++j) {
      const int64_t pos = (b * s.at + j) * s.after + a;
      const int64_t idx = index[PerRow ? j : pos];
      if (idx >= 0 && idx < x_size) gx[(b * x_size + idx) * s.after + a] += gy[pos];
    }
  }
}

// _v2: one thread per gy element, atomics.
template <class T, bool PerRow>
__global__ void add_atomic_kernel(Split s, int64_t x_size, T* gx, const int64_t* index, const T* gy) {
  const int64_t total = s.before * s.at * s.after;
  for (int64_t pos = first_index(); pos < total; pos += grid_stride()) {
    const int64_t a = pos % s.after, j = pos / s.after % s.at, b = pos / (s.after * s.at);
    const int64_t idx = index[PerRow ? j : pos];
    if (idx >= 0 && idx < x_size) atomic_add(&gx[(b * x_size + idx) * s.after + a], gy[pos]);
  }
}

enum class Version { v1, v2, best };

template <class T, bool PerRow>
void run_select(Split s, int64_t x_size, const T* x, const int64_t* index, T* y) {
  const int64_t total = s.before * s.at * s.after;
  if (total == 0) return;
  launch(select_kernel<T, PerRow>, blocks_for(total, kThreads), kThreads, 0, s, x_size, x, index, y);
}

template <class T, bool PerRow>
void run_add(Version v, Split s, int64_t x_size, T* gx, const int64_t* index, const T* gy) {
  const int64_t columns = s.before * s.after, total = columns * s.at;
  if (total == 0) return;
  if (v == Version::best) v = std::is_integral_v<T> ? Version::v2 : Version::v1;
  if (v == Version::v1)
    launch(add_columns_kernel<T, PerRow>, blocks_for(columns, kThreads), kThreads, 0, s, x_size, gx, index,
           gy);
  else
    launch(add_atomic_kernel<T, PerRow>, blocks_for(total, kThreads), kThreads, 0, s, x_size, gx, index, gy);
}

}  // namespace

template <class T>
void index_select(int64_t outer, int64_t size, int64_t inner, const T* x, int64_t k, const int64_t* index,
                  T* y) {
  run_select<T, true>(Split{outer, k, inner}, size, x, index, y);
}

template <class T>
void index_add(int64_t outer, int64_t size, int64_t inner, T* gx, int64_t k, const int64_t* index,
               const T* gy) {
  run_add<T, true>(Version::best, Split{outer, k, inner}, size, gx, index, gy);
}
template <class T>
void index_add_v1(int64_t outer, int64_t size, int64_t inner, T* gx, int64_t k, const int64_t* index,
                  const T* gy) {
  run_add<T, true>(Version::v1, Split{outer, k, inner}, size, gx, index, gy);
}
template <class T>
void index_add_v2(int64_t outer, int64_t size, int64_t inner, T* gx, int64_t k, const int64_t* index,
                  const T* gy) {
  run_add<T, true>(Version::v2, Split{outer, k, inner}, size, gx, index, gy);
}

template <class T>
void gather(int64_t ndim, const int64_t* shape, int64_t dim, int64_t x_dim_size, const T* x,
            const int64_t* index, T* y) {
  run_select<T, false>(split(ndim, shape, dim), x_dim_size, x, index, y);
}

template <class T>
void scatter_add(int64_t ndim, const int64_t* shape, int64_t dim, int64_t x_dim_size, T* gx,
                 const int64_t* index, const T* gy) {
  run_add<T, false>(Version::best, split(ndim, shape, dim), x_dim_size, gx, index, gy);
}
template <class T>
void scatter_add_v1(int64_t ndim, const int64_t* shape, int64_t dim, int64_t x_dim_size, T* gx,
                    const int64_t* index, const T* gy) {
  run_add<T, false>(Version::v1, split(ndim, shape, dim), x_dim_size, gx, index, gy);
}
template <class T>
void scatter_add_v2(int64_t ndim, const int64_t* shape, int64_t dim, int64_t x_dim_size, T* gx,
                    const int64_t* index, const T* gy) {
  run_add<T, false>(Version::v2, split(ndim, shape, dim), x_dim_size, gx, index, gy);
}

#define SSL_INSTANTIATE(T)                                                                                  \
  template void index_select<T>(int64_t, int64_t, int64_t, const T*, int64_t, const int64_t*, T*);          \
  template void index_add<T>(int64_t, int64_t, int64_t, T*, int64_t, const int64_t*, const T*);             \
  template void index_add_v1<T>(int64_t, int64_t, int64_t, T*, int64_t, const int64_t*, const T*);          \
  template void index_add_v2<T>(int64_t, int64_t, int64_t, T*, int64_t, const int64_t*, const T*);          \
  template void gather<T>(int64_t, const int64_t*, int64_t, int64_t, const T*, const int64_t*, T*);         \
  template void scatter_add<T>(int64_t, const int64_t*, int64_t, int64_t, T*, const int64_t*, const T*);    \
  template void scatter_add_v1<T>(int64_t, const int64_t*, int64_t, int64_t, T*, const int64_t*, const T*); \
  template void scatter_add_v2<T>(int64_t, const int64_t*, int64_t, int64_t, T*, const int64_t*, const T*);
SSL_INSTANTIATE(float)
SSL_INSTANTIATE(double)
SSL_INSTANTIATE(int64_t)
#undef SSL_INSTANTIATE

}  // namespace ssl::kernels::SSL_CUDA_NS
