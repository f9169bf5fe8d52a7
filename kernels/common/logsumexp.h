// Log-sum-exp per row. Running: the online form that fused softmax-like kernels (NT-Xent) keep: a running
// maximum m and a running sum l = Σ exp(x - m). Values can arrive one tile at a time and partial states
// can be merged in any grouping, so a row split across threads or blocks still gets
//   lse = m + log(l) = log Σ exp(x),
// with every exponent <= 0 (nothing overflows). An empty state (m = -inf, l = 0) is the identity of merge.
#pragma once

#include "kernels/common/host_device.h"
#include "kernels/common/scalar_math.h"

namespace ssl::lse {

template <class T>
struct Running {
  T max;
  T sum;
};

template <class T>
SSL_HD Running<T> empty() {
  return {hd::minus_infinity<T>(), T(0)};
}

// sum · exp(old_max − new_max) for new_max >= old_max, exact (not NaN) for an empty state.
template <class T>
SSL_HD T rescaled(T sum, T old_max, T new_max) {
  return old_max == new_max ? sum : sum * hd::exp(old_max - new_max);
}

// Adds the values x[0..count) whose maximum the caller already knows (block_max; -inf entries add nothing).
template <class T>
SSL_HD Running<T> push(Running<T> r, const T* x, int count, T block_max) {
  const T m = hd::max(r.max, block_max);
  if (m == hd::minus_infinity<T>()) return r;  // nothing but -inf seen so far
  T s = rescaled(r.sum, r.max, m);
  for (int k = 0; k < count; ++k) s += hd::exp(x[k] - m);
  return {m, s};
}

// The state of the union of two sets of values. Symmetric: merge(a, b) and merge(b, a) give the same bits,
// so lanes that exchange states in a butterfly all end with the same result.
template <class T>
SSL_HD Running<T> merge(Running<T> a, Running<T> b) {
  const T m = hd::max(a.max, b.max);
  if (m == hd::minus_infinity<T>()) return a;
  return {m, rescaled(a.sum, a.max, m) + rescaled(b.sum, b.max, m)};
}

template <class T>
SSL_HD T value(Running<T> r) {
  return r.max + hd::log(r.sum);
}

// A row's log-sum-exp as its maximum and log Σ exp(x − max), kept apart so that a log-probability is
// (x − max) − log_sum: adding the two first, rounded to T, would put half a unit of |max| into every
// log-probability (4e-4 for float logits near 1e4). A row whose maximum is not finite keeps it as its max,
// with log_sum 0 (no exps of inf − inf).
template <class T>
struct Row {
  T max, log_sum;
  SSL_HD T log_prob(T x) const { return (x - max) - log_sum; }
};

}  // namespace ssl::lse
