// Element-wise losses: binary cross-entropy with logits (its formulas in kernels/common/bce.h, as on the
// GPU).
#include "kernels/losses.h"

#include "kernels/common/bce.h"
#include "kernels/cpu/thread_partials.h"

namespace ssl::kernels::cpu {

template <class T>
T bce_with_logits_forward(int64_t n, const T* x, const T* t) {
  // Per-element terms in T, the sum in double: one rounding per term, not one per partial sum.
  const double sum = ordered_sums<1>(n, true, [x, t](int64_t i, std::array<double, 1>& s) {
    s[0] += double(bce::with_logits(x[i], t[i]));
  })[0];
  return T(sum / double(n));
}

// d/dx = sigmoid(x) − t; d/dt = −x.
template <class T>
void bce_with_logits_backward(int64_t n, const T* x, const T* t, T grad_loss, T* gx, T* gt) {
  const T scale = grad_loss / T(n);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    if (gx) gx[i] = (bce::sigmoid(x[i]) - t[i]) * scale;
    if (gt) gt[i] = -x[i] * scale;
  }
}

template float bce_with_logits_forward<float>(int64_t, const float*, const float*);
template double bce_with_logits_forward<double>(int64_t, const double*, const double*);
template void bce_with_logits_backward<float>(int64_t, const float*, const float*, float, float*, float*);
template void bce_with_logits_backward<double>(int64_t, const double*, const double*, double, double*,
                                               double*);

}  // namespace ssl::kernels::cpu
