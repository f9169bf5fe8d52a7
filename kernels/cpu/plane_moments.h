// Per-plane reductions for the convolution kernels: the moments a kernel records while each output plane is
// still in cache, so that the batch norm after it need not read the whole output again for its statistics
// (see batch_norm_relu_forward_train_moments in kernels/batchnorm.h), and the sum a bias gradient needs.
#pragma once

#include <algorithm>
#include <cstdint>

namespace ssl::kernels::cpu {

// The mean and the sum of squared deviations M2 = Σ (y - mean)² of the hw values of one plane, returned in
// double. One pass (the plane is in cache, but a second pass still costs as much as the batch-norm pass it
// replaces): Σ d and Σ d² of d = y - K, summed in T, with K the plane's first value, give mean = K + Σd/hw
// and M2 = Σd² - (Σd)²/hw. Shifting by a value of the data keeps M2 accurate when |mean| >> std, where
// Σy² - (Σy)²/hw would lose every digit, as long as K lies within a few std of the mean: the relative error
// grows as the square of that distance (K 100 std away costs about 0.5 % of M2 in float, over a plane of
// 12,544 values).
template <class T>
inline void plane_moments(const T* y, int64_t hw, double* mean, double* m2) {
  const T k0 = y[0];
  T d = 0, dd = 0;
#pragma omp simd reduction(+ : d, dd)
  for (int64_t q = 0; q < hw; ++q) {
    const T e = y[q] - k0;
    d += e;
    dd += e * e;
  }
  *mean = double(k0) + double(d) / double(hw);
  *m2 = std::max(0.0, double(dd) - double(d) * double(d) / double(hw));
}

// The sum of the hw values of one plane (a bias's gradient sums one plane of gy per output channel).
template <class T>
inline T plane_sum(const T* y, int64_t hw) {
  T acc = 0;
#pragma omp simd reduction(+ : acc)
  for (int64_t q = 0; q < hw; ++q) acc += y[q];
  return acc;
}

}  // namespace ssl::kernels::cpu
