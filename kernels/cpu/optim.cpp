// The optimizers' steps on the CPU: each element's update is the formula of kernels/common/optim_update.h,
// which the CUDA kernels run too.
#include "kernels/optim.h"

#include <cmath>

#include "kernels/common/optim_update.h"
#include "kernels/cpu/thread_partials.h"

namespace ssl::kernels::cpu {

template <class T>
void sgd_step(int64_t n, T* p, const T* g, T* buf, T lr, T momentum, T weight_decay, bool nesterov,
              bool first_step) {
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i)
    optim::sgd_update(p[i], g[i], buf[i], lr, momentum, weight_decay, nesterov, first_step);
}

template <class T>
void adam_step(int64_t n, T* p, const T* g, T* m, T* v, T lr, T beta1, T beta2, T eps, T weight_decay,
               int64_t t) {
  const T c1 = T(1) - std::pow(beta1, T(t)), c2 = T(1) - std::pow(beta2, T(t));
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i)
    optim::adam_update(p[i], g[i], m[i], v[i], lr, beta1, beta2, eps, weight_decay, c1, c2);
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
    trust = optim::lars_trust(pp, gg, gp, wd, eta);
  }
  const T scaled = lr * trust;
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) optim::lars_update(p[i], g[i], buf[i], scaled, momentum, wd, nesterov);
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
