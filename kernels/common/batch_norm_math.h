// Per-channel formulas of batch normalisation (kernels/batchnorm.h) as SSL_HD functions, so the CUDA kernels
// compute exactly what the CPU twin (kernels/cpu/batchnorm.cpp, which calls `affine` and writes the others
// inline beside its plane-moment path) computes from the same sums. Sums are in double; the per-channel
// results are rounded to T once, as on the CPU.
#pragma once

#include <cmath>

#include "kernels/common/host_device.h"

namespace ssl::batch_norm {

// The element-wise map forward applies: (x - mean) * scale + shift (then the ReLU when fused). The fused
// backward recomputes the ReLU's mask with it, so forward and backward agree on every element's sign.
template <class T>
SSL_HD T affine(T x, T mean, T scale, T shift) {
  return (x - mean) * scale + shift;
}

// What training-mode forward derives for one channel from s1 = sum(x - k0) and s2 = sum((x - k0)^2) over its
// m values (k0 is the channel's first value: shifting by a value of the data keeps E[d^2] - E[d]^2 accurate).
template <class T>
struct TrainStats {
  T mean, invstd, var;  // save_mean, save_invstd, batch_var (biased)
  T scale, shift;       // y = (x - mean) * scale + shift; shift absorbs the rounding of the mean to T
};

template <class T>
SSL_HD TrainStats<T> train_stats(double s1, double s2, double m, T k0, const T* gamma, const T* beta, int ch,
                                 T eps) {
  const double d_mean = s1 / m, mean = double(k0) + d_mean;
  double var = s2 / m - d_mean * d_mean;
  var = var > 0.0 ? var : 0.0;
  const double invstd = 1.0 / sqrt(var + double(eps));
  const double sc = invstd * (gamma ? double(gamma[ch]) : 1.0);
  TrainStats<T> r;
  r.mean = T(mean);
  r.invstd = T(invstd);
  r.var = T(var);
  r.scale = T(sc);
  r.shift = T((beta ? double(beta[ch]) : 0.0) - (mean - double(r.mean)) * sc);
  return r;
}

// Training-mode backward for one channel from sum_g = sum(g) and sum_gx = sum(g * (x - mean)) over its m
// values (g = gy, masked by the ReLU when fused): ggamma, gbeta, and gx = k_gy*g - k_x*(x - mean) - k_0.
template <class T>
struct TrainGrad {
  T ggamma, gbeta, k_gy, k_x, k_0;
};

template <class T>
SSL_HD TrainGrad<T> train_grad(double sum_g, double sum_gx, double m, T invstd_t, const T* gamma, int ch) {
  const double invstd = double(invstd_t), g = gamma ? double(gamma[ch]) : 1.0;
  const double dgamma = invstd * sum_gx;  // sum(g * xhat)
  TrainGrad<T> r;
  r.ggamma = T(dgamma);
  r.gbeta = T(sum_g);
  r.k_gy = T(g * invstd);
  r.k_x = T(g * invstd * invstd * dgamma / m);
  r.k_0 = T(g * invstd * sum_g / m);
  return r;
}

// Evaluation mode: 1 / sqrt(running_var + eps), and the scale gamma times it, in double, rounded once.
template <class T>
SSL_HD double eval_invstd(T running_var, T eps) {
  return 1.0 / sqrt(double(running_var) + double(eps));
}
template <class T>
SSL_HD T eval_scale(const T* gamma, int ch, T running_var, T eps) {
  return T((gamma ? double(gamma[ch]) : 1.0) * eval_invstd(running_var, eps));
}

}  // namespace ssl::batch_norm
