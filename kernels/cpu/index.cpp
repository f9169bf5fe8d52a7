#include "kernels/index.h"

#include <algorithm>

#include "core/error.h"

namespace ssl::kernels::cpu {

namespace {
void check_index(int64_t idx, int64_t size, const char* op) {
  SSL_CHECK(idx >= 0 && idx < size, op, ": index ", idx, " is outside [0, ", size, ")");
}
// Splits a flat position of `shape` into (before, at dim, after) for contiguous layouts.
struct Split {
  int64_t before, at, after;
};
Split split(int64_t ndim, const int64_t* shape, int64_t dim) {
  Split s{1, shape[dim], 1};
  for (int64_t d = 0; d < dim; ++d) s.before *= shape[d];
  for (int64_t d = dim + 1; d < ndim; ++d) s.after *= shape[d];
  return s;
}
}  // namespace

template <class T>
void index_select(int64_t outer, int64_t size, int64_t inner, const T* x, int64_t k, const int64_t* index,
                  T* y) {
  for (int64_t j = 0; j < k; ++j) check_index(index[j], size, "index_select");
#pragma omp parallel for if (outer * k * inner > 32768)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < k; ++j) {
      const T* src = x + (o * size + index[j]) * inner;
      std::copy(src, src + inner, y + (o * k + j) * inner);
    }
  }
}

template <class T>
void index_add(int64_t outer, int64_t size, int64_t inner, T* gx, int64_t k, const int64_t* index,
               const T* gy) {
  for (int64_t j = 0; j < k; ++j) check_index(index[j], size, "index_add");
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < k; ++j) {
      T* dst = gx + (o * size + index[j]) * inner;
      const T* src = gy + (o * k + j) * inner;
      for (int64_t i = 0; i < inner; ++i) dst[i] += src[i];
    }
  }
}

template <class T>
void gather(int64_t ndim, const int64_t* shape, int64_t dim, int64_t x_dim_size, const T* x,
            const int64_t* index, T* y) {
  const Split s = split(ndim, shape, dim);
  for (int64_t b = 0; b < s.before; ++b)
    for (int64_t j = 0; j < s.at; ++j)
      for (int64_t a = 0; a < s.after; ++a) {
        const int64_t pos = (b * s.at + j) * s.after + a;
        check_index(index[pos], x_dim_size, "gather");
        y[pos] = x[(b * x_dim_size + index[pos]) * s.after + a];
      }
}

template <class T>
void scatter_add(int64_t ndim, const int64_t* shape, int64_t dim, int64_t x_dim_size, T* gx,
                 const int64_t* index, const T* gy) {
  const Split s = split(ndim, shape, dim);
  for (int64_t b = 0; b < s.before; ++b)
    for (int64_t j = 0; j < s.at; ++j)
      for (int64_t a = 0; a < s.after; ++a) {
        const int64_t pos = (b * s.at + j) * s.after + a;
        check_index(index[pos], x_dim_size, "scatter_add");
        gx[(b * x_dim_size + index[pos]) * s.after + a] += gy[pos];
      }
}

#define SSL_INSTANTIATE(T)                                                                          \
  template void index_select<T>(int64_t, int64_t, int64_t, const T*, int64_t, const int64_t*, T*);  \
  template void index_add<T>(int64_t, int64_t, int64_t, T*, int64_t, const int64_t*, const T*);     \
  template void gather<T>(int64_t, const int64_t*, int64_t, int64_t, const T*, const int64_t*, T*); \
  template void scatter_add<T>(int64_t, const int64_t*, int64_t, int64_t, T*, const int64_t*, const T*);
SSL_INSTANTIATE(float)
SSL_INSTANTIATE(double)
SSL_INSTANTIATE(int64_t)
#undef SSL_INSTANTIATE

}  // namespace ssl::kernels::cpu
