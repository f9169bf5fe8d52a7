#include "kernels/reduce.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace ssl::kernels::cpu {

template <class T>
void sum_middle(int64_t outer, int64_t r, int64_t inner, const T* x, T* y) {
  const bool big = outer * r * inner > 32768 && !omp_in_parallel();
  if (inner == 1) {
    // Row sums, accumulated in double so that long rows of floats stay accurate.
#pragma omp parallel for schedule(static) if (big && outer > 1)
    for (int64_t o = 0; o < outer; ++o) {
      double acc = 0;
      const T* row = x + o * r;
      for (int64_t k = 0; k < r; ++k) acc += row[k];
      y[o] = T(acc);
    }
    return;
  }
  // Column sums: add whole rows of length `inner` (which vectorises) into totals kept in double, as the row
  // sums are, so that long columns of floats stay accurate (in float, a million rows of 0.1 sum 1 % off);
  // threads split the columns.
#pragma omp parallel if (big)
  {
    const int nt = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t chunk = (inner + nt - 1) / nt;
    const int64_t i0 = std::min(inner, t * chunk), i1 = std::min(inner, i0 + chunk);
    std::vector<double> total(size_t(i1 - i0));
    for (int64_t o = 0; o < outer; ++o) {
      std::fill(total.begin(), total.end(), 0.0);
      for (int64_t k = 0; k < r; ++k) {
        const T* xk = x + (o * r + k) * inner + i0;
        for (int64_t i = 0; i < i1 - i0; ++i) total[size_t(i)] += double(xk[i]);
      }
      T* yo = y + o * inner + i0;
      for (int64_t i = 0; i < i1 - i0; ++i) yo[i] = T(total[size_t(i)]);
    }
  }
}

template <class T>
void max_middle(int64_t outer, int64_t r, int64_t inner, const T* x, T* values, int64_t* indices) {
#pragma omp parallel for collapse(2) schedule(static) if (outer * r * inner > 32768 && !omp_in_parallel())
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const T* base = x + o * r * inner + i;
      T best = base[0];
      int64_t arg = 0;
      for (int64_t k = 1; k < r && !std::isnan(best); ++k) {
        const T v = base[k * inner];
        if (v > best || std::isnan(v)) {
          best = v;
          arg = k;
        }
      }
      values[o * inner + i] = best;
      indices[o * inner + i] = arg;
    }
  }
}

template <class T>
void max_middle_backward(int64_t outer, int64_t r, int64_t inner, const T* gy, const int64_t* indices,
                         T* gx) {
  for (int64_t j = 0; j < outer * r * inner; ++j) gx[j] = T(0);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) gx[(o * r + indices[o * inner + i]) * inner + i] = gy[o * inner + i];
  }
}

#define SSL_INSTANTIATE(T)                                                        \
  template void sum_middle<T>(int64_t, int64_t, int64_t, const T*, T*);           \
  template void max_middle<T>(int64_t, int64_t, int64_t, const T*, T*, int64_t*); \
  template void max_middle_backward<T>(int64_t, int64_t, int64_t, const T*, const int64_t*, T*);
SSL_INSTANTIATE(float)
SSL_INSTANTIATE(double)
#undef SSL_INSTANTIATE

}  // namespace ssl::kernels::cpu
