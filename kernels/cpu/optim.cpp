#include "kernels/optim.h"

#include <cmath>

namespace ssl::kernels::cpu {

template <class T>
void sgd_step(int64_t n, T* p, const T* g, T* buf, T lr, T momentum, T weight_decay, bool nesterov,
              bool first_step) {
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    T d = g[i] + weight_decay * p[i];
    if (momentum != T(0)) {
      buf[i] = first_step ? d : momentum * buf[i] + d;
      d = nesterov ? d + momentum * buf[i] : buf[i];
    }
    p[i] -= lr * d;
  }
}

template <class T>
void adam_step(int64_t n, T* p, const T* g, T* m, T* v, T lr, T beta1, T beta2, T eps, T weight_decay,
               int64_t t) {
  const T c1 = T(1) - std::pow(beta1, T(t)), c2 = T(1) - std::pow(beta2, T(t));
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    const T d = g[i] + weight_decay * p[i];
    m[i] = beta1 * m[i] + (T(1) - beta1) * d;
    v[i] = beta2 * v[i] + (T(1) - beta2) * d * d;
    p[i] -= lr * (m[i] / c1) / (std::sqrt(v[i] / c2) + eps);
  }
}

template void sgd_step<float>(int64_t, float*, const float*, float*, float, float, float, bool, bool);
template void sgd_step<double>(int64_t, double*, const double*, double*, double, double, double, bool, bool);
template void adam_step<float>(int64_t, float*, const float*, float*, float*, float, float, float, float,
                               float, int64_t);
template void adam_step<double>(int64_t, double*, const double*, double*, double*, double, double, double,
                                double, double, int64_t);

}  // namespace ssl::kernels::cpu
