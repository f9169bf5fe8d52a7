// Binary cross-entropy with logits, the per-element formulas shared by the CPU and GPU losses: written so
// that neither e^x nor log(0) can overflow for any x.
#pragma once

#include "kernels/common/host_device.h"
#include "kernels/common/scalar_math.h"

namespace ssl::bce {

// −[t log σ(x) + (1 − t) log(1 − σ(x))] = max(x, 0) − x t + log(1 + e^{−|x|}).
template <class T>
SSL_HD T with_logits(T x, T t) {
  return hd::max(x, T(0)) - x * t + hd::log1p(hd::exp(-hd::abs(x)));
}

// σ(x) from e^{−|x|} <= 1, which never overflows.
template <class T>
SSL_HD T sigmoid(T x) {
  const T e = hd::exp(-hd::abs(x));
  return x >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
}

}  // namespace ssl::bce
