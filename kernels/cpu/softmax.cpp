#include "kernels/softmax.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "kernels/common/logsumexp.h"
#include "kernels/cpu/thread_partials.h"

namespace ssl::kernels::cpu {

namespace {
// A row's log-sum-exp (kernels/common/logsumexp.h), with the max subtracted so exp never overflows.
template <class T>
lse::Row<T> row_lse(const T* x, int64_t n) {
  T m = -std::numeric_limits<T>::infinity();
  for (int64_t j = 0; j < n; ++j) m = std::max(m, x[j]);
  if (!std::isfinite(m)) return {m, T(0)};
  T s = 0;
  for (int64_t j = 0; j < n; ++j) s += std::exp(x[j] - m);
  return {m, std::log(s)};
}
bool parallel(int64_t rows, int64_t cols) { return rows > 1 && rows * cols > 16384 && !omp_in_parallel(); }
}  // namespace

template <class T>
void softmax_forward(int64_t rows, int64_t cols, const T* x, T* y) {
#pragma omp parallel for if (parallel(rows, cols))
  for (int64_t r = 0; r < rows; ++r) {
    const lse::Row<T> row = row_lse(x + r * cols, cols);
    for (int64_t j = 0; j < cols; ++j) y[r * cols + j] = std::exp(row.log_prob(x[r * cols + j]));
  }
}

template <class T>
void softmax_backward(int64_t rows, int64_t cols, const T* y, const T* g, T* gx) {
#pragma omp parallel for if (parallel(rows, cols))
  for (int64_t r = 0; r < rows; ++r) {
    const T *yr = y + r * cols, *gr = g + r * cols;
    T dot = 0;
    for (int64_t j = 0; j < cols; ++j) dot += gr[j] * yr[j];
    for (int64_t j = 0; j < cols; ++j) gx[r * cols + j] = yr[j] * (gr[j] - dot);
  }
}

template <class T>
void log_softmax_forward(int64_t rows, int64_t cols, const T* x, T* y) {
#pragma omp parallel for if (parallel(rows, cols))
  for (int64_t r = 0; r < rows; ++r) {
    const lse::Row<T> row = row_lse(x + r * cols, cols);
    for (int64_t j = 0; j < cols; ++j) y[r * cols + j] = row.log_prob(x[r * cols + j]);
  }
}

template <class T>
void log_softmax_backward(int64_t rows, int64_t cols, const T* y, const T* g, T* gx) {
#pragma omp parallel for if (parallel(rows, cols))
  for (int64_t r = 0; r < rows; ++r) {
    const T *yr = y + r * cols, *gr = g + r * cols;
    T total = 0;
    for (int64_t j = 0; j < cols; ++j) total += gr[j];
    for (int64_t j = 0; j < cols; ++j) gx[r * cols + j] = gr[j] - std::exp(yr[j]) * total;
  }
}

namespace {
// Both passes check: the backward reads the targets again, and a buffer changed in between must not
// become a write outside gx.
void check_targets(int64_t rows, int64_t cols, const int64_t* targets) {
  for (int64_t r = 0; r < rows; ++r) {
    SSL_CHECK(targets[r] >= 0 && targets[r] < cols, "cross_entropy: target ", targets[r], " of row ", r,
              " is outside [0, ", cols, ")");
  }
}
}  // namespace

template <class T>
T cross_entropy_forward(int64_t rows, int64_t cols, const T* logits, const int64_t* targets) {
  check_targets(rows, cols, targets);
  const double total = ordered_sums<1>(rows, parallel(rows, cols), [=](int64_t r, std::array<double, 1>& s) {
    s[0] -= double(row_lse(logits + r * cols, cols).log_prob(logits[r * cols + targets[r]]));
  })[0];
  return T(total / double(rows));
}

template <class T>
void cross_entropy_backward(int64_t rows, int64_t cols, const T* logits, const int64_t* targets, T grad_loss,
                            T* gx) {
  check_targets(rows, cols, targets);
  const T scale = grad_loss / T(rows);
#pragma omp parallel for if (parallel(rows, cols))
  for (int64_t r = 0; r < rows; ++r) {
    const lse::Row<T> row = row_lse(logits + r * cols, cols);
    for (int64_t j = 0; j < cols; ++j)
      gx[r * cols + j] = std::exp(row.log_prob(logits[r * cols + j])) * scale;
    gx[r * cols + targets[r]] -= scale;
  }
}

template <class T>
void l2_normalize_forward(int64_t rows, int64_t cols, const T* x, T eps, T* y, T* inv_norm) {
#pragma omp parallel for if (parallel(rows, cols))
  for (int64_t r = 0; r < rows; ++r) {
    T ss = 0;
    for (int64_t j = 0; j < cols; ++j) ss += x[r * cols + j] * x[r * cols + j];
    const T inv = T(1) / std::max(std::sqrt(ss), eps);
    inv_norm[r] = inv;
    for (int64_t j = 0; j < cols; ++j) y[r * cols + j] = x[r * cols + j] * inv;
  }
}

template <class T>
void l2_normalize_backward(int64_t rows, int64_t cols, const T* y, const T* inv_norm, T eps, const T* g,
                           T* gx) {
#pragma omp parallel for if (parallel(rows, cols))
  for (int64_t r = 0; r < rows; ++r) {
    const T *yr = y + r * cols, *gr = g + r * cols;
    // Then y = x / eps, a plain scaling. Compared as the forward computed it: 1 / (1 / eps) may round above
    // eps.
    const bool clamped = inv_norm[r] >= T(1) / eps;
    T dot = 0;
    if (!clamped)
      for (int64_t j = 0; j < cols; ++j) dot += yr[j] * gr[j];
    for (int64_t j = 0; j < cols; ++j) gx[r * cols + j] = inv_norm[r] * (gr[j] - yr[j] * dot);
  }
}

#define SSL_INSTANTIATE(T)                                                                    \
  template void softmax_forward<T>(int64_t, int64_t, const T*, T*);                           \
  template void softmax_backward<T>(int64_t, int64_t, const T*, const T*, T*);                \
  template void log_softmax_forward<T>(int64_t, int64_t, const T*, T*);                       \
  template void log_softmax_backward<T>(int64_t, int64_t, const T*, const T*, T*);            \
  template T cross_entropy_forward<T>(int64_t, int64_t, const T*, const int64_t*);            \
  template void cross_entropy_backward<T>(int64_t, int64_t, const T*, const int64_t*, T, T*); \
  template void l2_normalize_forward<T>(int64_t, int64_t, const T*, T, T*, T*);               \
  template void l2_normalize_backward<T>(int64_t, int64_t, const T*, const T*, T, const T*, T*);
SSL_INSTANTIATE(float)
SSL_INSTANTIATE(double)
#undef SSL_INSTANTIATE

}  // namespace ssl::kernels::cpu
