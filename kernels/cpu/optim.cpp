#include "kernels/optim.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/thread_partials.h"

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

template <class T>
void adamw_step(int64_t n, T* p, const T* g, T* m, T* v, T lr, T beta1, T beta2, T eps, T weight_decay,
                int64_t t) {
  const T shrink = T(1) - lr * weight_decay;
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) p[i] *= shrink;
  adam_step<T>(n, p, g, m, v, lr, beta1, beta2, eps, T(0), t);
}

template <class T>
double sum_of_squares(int64_t n, const T* x) {
  return ordered_sums<1>(
      n, n > 65536, [x](int64_t i, std::array<double, 1>& s) { s[0] += double(x[i]) * double(x[i]); })[0];
}

template <class T>
void lars_step(int64_t n, T* p, const T* g, T* buf, T lr, T momentum, T weight_decay, T eta, bool adapt,
               bool nesterov) {
  T wd = adapt ? weight_decay : T(0), trust = T(1);
  if (adapt) {
    // ‖g + wd·p‖² = ‖g‖² + 2wd⟨g,p⟩ + wd²‖p‖², accumulated in one pass.
    const auto [pp, gg, gp] = ordered_sums<3>(n, n > 65536, [p, g](int64_t i, std::array<double, 3>& s) {
      s[0] += double(p[i]) * p[i];
      s[1] += double(g[i]) * g[i];
      s[2] += double(g[i]) * p[i];
    });
    const double p_norm = std::sqrt(pp),
                 g_norm = std::sqrt(std::max(0.0, gg + 2 * wd * gp + double(wd) * wd * pp));
    if (p_norm > 0 && g_norm > 0) trust = T(eta * p_norm / g_norm);
  }
  const T scaled = lr * trust;
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    const T d = scaled * (g[i] + wd * p[i]);
    buf[i] = momentum * buf[i] + d;
    p[i] -= nesterov ? momentum * buf[i] + d : buf[i];
  }
}

template void sgd_step<float>(int64_t, float*, const float*, float*, float, float, float, bool, bool);
template void sgd_step<double>(int64_t, double*, const double*, double*, double, double, double, bool, bool);
template void adam_step<float>(int64_t, float*, const float*, float*, float*, float, float, float, float,
                               float, int64_t);
template void adam_step<double>(int64_t, double*, const double*, double*, double*, double, double, double,
                                double, double, int64_t);

template void adamw_step<float>(int64_t, float*, const float*, float*, float*, float, float, float, float,
                                float, int64_t);
template void adamw_step<double>(int64_t, double*, const double*, double*, double*, double, double, double,
                                 double, double, int64_t);
template void lars_step<float>(int64_t, float*, const float*, float*, float, float, float, float, bool, bool);
template void lars_step<double>(int64_t, double*, const double*, double*, double, double, double, double,
                                bool, bool);
template double sum_of_squares<float>(int64_t, const float*);
template double sum_of_squares<double>(int64_t, const double*);

}  // namespace ssl::kernels::cpu
