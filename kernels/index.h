// Indexing kernels on contiguous [outer, size, inner] views, and gather/scatter along one dim.
#pragma once

#include <cstdint>

namespace ssl::kernels::cpu {

// y[o, k, i] = x[o, index[k], i]; throws ssl::Error on an index outside [0, size).
template <class T>
void index_select(int64_t outer, int64_t size, int64_t inner, const T* x, int64_t k, const int64_t* index,
                  T* y);
// gx[o, index[k], i] += gy[o, k, i] (gx must be zeroed by the caller); repeated indices add up.
template <class T>
void index_add(int64_t outer, int64_t size, int64_t inner, T* gx, int64_t k, const int64_t* index,
               const T* gy);

// For a contiguous index of shape `shape` (ndim dims) and a contiguous x whose dims equal shape's except
// along `dim` (size x_dim_size): y[..., j, ...] = x[..., index[..., j, ...], ...].
template <class T>
void gather(int64_t ndim, const int64_t* shape, int64_t dim, int64_t x_dim_size, const T* x,
            const int64_t* index, T* y);
// gx[..., index[..., j, ...], ...] += gy[..., j, ...] (gx zeroed by the caller).
template <class T>
void scatter_add(int64_t ndim, const int64_t* shape, int64_t dim, int64_t x_dim_size, T* gx,
                 const int64_t* index, const T* gy);

}  // namespace ssl::kernels::cpu
