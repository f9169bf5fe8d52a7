// Indexing kernels on the GPU: the same functions as kernels::cpu in kernels/index.h, on device pointers
// (data and indices alike); the `shape` arrays of gather/scatter_add stay host pointers.
//
// The device cannot throw: an index outside its range is not checked against an error but skipped (the
// element of index_select/gather reads as 0, the *_add ops add nothing), so memory is never touched out of
// bounds. Nothing checks them on the way to the GPU (core/ops.h says so); the CPU kernels throw instead.
//
// Versions of the *_add ops (kernels/cuda/index.cu): _v1 gives each thread one column (one position of the
// dims the index does not address) and adds the rows in index order, as the CPU does, so the result has the
// CPU's bits and is the same every run; _v2 gives each thread one element of gy and adds with atomics
// (more parallel when there are few columns, but the order of float additions to a repeated index varies).
// The unsuffixed name takes _v1 for float and double and _v2 for int64_t, whose sums do not depend on order.
#pragma once

#include <cstdint>

#include "kernels/cuda/namespace.h"

namespace ssl::kernels::SSL_CUDA_NS {

// Requires: x device [outer, size, inner], index device [k], y device [outer, k, inner].
// Ensures: y[o, j, i] = x[o, index[j], i] (0 where index[j] is outside [0, size)).
template <class T>
void index_select(int64_t outer, int64_t size, int64_t inner, const T* x, int64_t k, const int64_t* index,
                  T* y);

// Requires: gx device [outer, size, inner] (the caller zeroes it), gy device [outer, k, inner].
// Ensures: gx[o, index[j], i] += gy[o, j, i] for every j; repeated indices add up.
template <class T>
void index_add(int64_t outer, int64_t size, int64_t inner, T* gx, int64_t k, const int64_t* index,
               const T* gy);
template <class T>
void index_add_v1(int64_t outer, int64_t size, int64_t inner, T* gx, int64_t k, const int64_t* index,
                  const T* gy);
template <class T>
void index_add_v2(int64_t outer, int64_t size, int64_t inner, T* gx, int64_t k, const int64_t* index,
                  const T* gy);

// Requires: index and y device, contiguous, of shape `shape` (ndim dims, host array); x device, contiguous,
// of the same shape but x_dim_size along `dim`. Ensures: y[..., j, ...] = x[..., index[..., j, ...], ...].
template <class T>
void gather(int64_t ndim, const int64_t* shape, int64_t dim, int64_t x_dim_size, const T* x,
            const int64_t* index, T* y);

// Ensures: gx[..., index[..., j, ...], ...] += gy[..., j, ...] (gx zeroed by the caller).
template <class T>
void scatter_add(int64_t ndim, const int64_t* shape, int64_t dim, int64_t x_dim_size, T* gx,
                 const int64_t* index, const T* gy);
template <class T>
void scatter_add_v1(int64_t ndim, const int64_t* shape, int64_t dim, int64_t x_dim_size, T* gx,
                    const int64_t* index, const T* gy);
template <class T>
void scatter_add_v2(int64_t ndim, const int64_t* shape, int64_t dim, int64_t x_dim_size, T* gx,
                    const int64_t* index, const T* gy);

}  // namespace ssl::kernels::SSL_CUDA_NS
