// Element-wise losses: binary cross-entropy with logits.
#include "kernels/losses.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/thread_partials.h"

namespace ssl::kernels::cpu {

template <class T>
T bce_with_logits_forward(int64_t n, const T* x, const T* t) {
  // Per-element terms in T, the sum in double: one rounding per term, not one per partial sum.
  const double sum = ordered_sums<1>(n, true, [x, t](int64_t i, std::array<double, 1>& s) {
    const T xi = x[i];
    s[0] += double(std::max(xi, T(0)) - xi * t[i] + std::log1p(std::exp(-std::abs(xi))));
  })[0];
  return T(sum / double(n));
}

// d/dx = sigmoid(x) − t; d/dt = −x. sigmoid(x) from e^{−|x|}, which never overflows.
template <class T>
void bce_with_logits_backward(int64_t n, const T* x, const T* t, T grad_loss, T* gx, T* gt) {
  const T scale = grad_loss / T(n);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const T xi = x[i];
    if (gx) {
      const T e = std::exp(-std::abs(xi));
      const T sig = xi >= 0 ? T(1) / (T(1) + e) : e / (T(1) + e);
      gx[i] = (sig - t[i]) * scale;
    }
    if (gt) gt[i] = -xi * scale;
  }
}

template float bce_with_logits_forward<float>(int64_t, const float*, const float*);
template double bce_with_logits_forward<double>(int64_t, const double*, const double*);
template void bce_with_logits_backward<float>(int64_t, const float*, const float*, float, float*, float*);
template void bce_with_logits_backward<double>(int64_t, const double*, const double*, double, double*,
                                               double*);

}  // namespace ssl::kernels::cpu
