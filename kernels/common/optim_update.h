// Per-element updates of the optimizers (kernels/optim.h): the CPU loops (kernels/cpu/optim.cpp) and the
// CUDA kernels (kernels/cuda/optim.cu) both call these, so both round alike.
#pragma once

#include <math.h>

#include "kernels/common/host_device.h"
#include "kernels/common/scalar_math.h"

namespace ssl::optim {

// SGD: d = g + wd·p; with momentum, buf = first ? d : momentum·buf + d and d = nesterov ? d + momentum·buf :
// buf; p −= lr·d.
template <class T>
SSL_HD void sgd_update(T& p, T g, T& buf, T lr, T momentum, T weight_decay, bool nesterov, bool first_step) {
  T d = g + weight_decay * p;
  if (momentum != T(0)) {
    buf = first_step ? d : momentum * buf + d;
    d = nesterov ? d + momentum * buf : buf;
  }
  p -= lr * d;
}

// Adam with bias corrections c1 = 1 − β1ᵗ, c2 = 1 − β2ᵗ (computed once per step by the caller).
template <class T>
SSL_HD void adam_update(T& p, T g, T& m, T& v, T lr, T beta1, T beta2, T eps, T weight_decay, T c1, T c2) {
  const T d = g + weight_decay * p;
  m = beta1 * m + (T(1) - beta1) * d;
  v = beta2 * v + (T(1) - beta2) * d * d;
  p -= lr * (m / c1) / (hd::sqrt(v / c2) + eps);
}

// LARS trust ratio from Σp², Σg², Σg·p: eta·‖p‖/‖g + wd·p‖, or 1 when either norm is 0.
template <class T>
SSL_HD T lars_trust(double pp, double gg, double gp, T wd, T eta) {
  const double p_norm = ::sqrt(pp), g2 = gg + 2 * wd * gp + double(wd) * wd * pp;
  const double g_norm = ::sqrt(g2 > 0.0 ? g2 : 0.0);
  return p_norm > 0 && g_norm > 0 ? T(eta * p_norm / g_norm) : T(1);
}

// LARS step with scaled = lr·trust: buf = momentum·buf + scaled·(g + wd·p); p −= nesterov ? momentum·buf + d
// : buf.
template <class T>
SSL_HD void lars_update(T& p, T g, T& buf, T scaled, T momentum, T wd, bool nesterov) {
  const T d = scaled * (g + wd * p);
  buf = momentum * buf + d;
  p -= nesterov ? momentum * buf + d : buf;
}

}  // namespace ssl::optim
