// exp, log, sqrt, ... of float and double under one name for host and device code, so that templated
// kernels and the formulas in kernels/common call the right precision on both sides (the C names expf,
// exp, ... exist in host math.h and in CUDA device code alike).
#pragma once

#include <math.h>

#include "kernels/common/host_device.h"

namespace ssl::hd {

SSL_HD float exp(float x) { return ::expf(x); }
SSL_HD double exp(double x) { return ::exp(x); }
SSL_HD float log(float x) { return ::logf(x); }
SSL_HD double log(double x) { return ::log(x); }
SSL_HD float log1p(float x) { return ::log1pf(x); }
SSL_HD double log1p(double x) { return ::log1p(x); }
SSL_HD float sqrt(float x) { return ::sqrtf(x); }
SSL_HD double sqrt(double x) { return ::sqrt(x); }
SSL_HD float tanh(float x) { return ::tanhf(x); }
SSL_HD double tanh(double x) { return ::tanh(x); }
SSL_HD float pow(float x, float y) { return ::powf(x, y); }
SSL_HD double pow(double x, double y) { return ::pow(x, y); }
SSL_HD float abs(float x) { return ::fabsf(x); }
SSL_HD double abs(double x) { return ::fabs(x); }
template <class T>
SSL_HD bool is_finite(T x) {
  return x - x == x - x;  // NaN for ±inf and NaN, 0 otherwise (no <cmath> classification needed)
}
template <class T>
SSL_HD bool is_nan(T x) {
  return x != x;
}
template <class T>
SSL_HD T minus_infinity() {
  return -T(INFINITY);
}
template <class T>
SSL_HD T max(T a, T b) {
  return a < b ? b : a;
}
template <class T>
SSL_HD T min(T a, T b) {
  return b < a ? b : a;
}

}  // namespace ssl::hd
