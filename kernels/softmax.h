// Row-wise kernels on contiguous [rows, cols] matrices: softmax, log-softmax, cross-entropy and
// L2 normalisation, each with its backward.
#pragma once

#include <cstdint>

namespace ssl::kernels::cpu {

template <class T>
void softmax_forward(int64_t rows, int64_t cols, const T* x, T* y);
// gx = y ⊙ (g − Σ_j g_j y_j)
template <class T>
void softmax_backward(int64_t rows, int64_t cols, const T* y, const T* g, T* gx);

template <class T>
void log_softmax_forward(int64_t rows, int64_t cols, const T* x, T* y);
// gx = g − exp(y) Σ_j g_j
template <class T>
void log_softmax_backward(int64_t rows, int64_t cols, const T* y, const T* g, T* gx);

// Returns the mean over rows of lse(x_r) − x_r[target_r]. Throws ssl::Error on a target outside [0, cols).
// Every log-probability is (x − max) − log Σ exp(x − max), the row's max and log-sum kept apart: adding them
// first, rounded to T, would put half a unit of |max| into each (4e-4 for float logits near 1e4).
template <class T>
T cross_entropy_forward(int64_t rows, int64_t cols, const T* logits, const int64_t* targets);
// gx = (softmax(x) − onehot(target)) · grad_loss / rows, each row's max and log-sum recomputed (a saved
// log-sum-exp, rounded to T, would cost large logits the same accuracy). Checks the targets as forward does.
template <class T>
void cross_entropy_backward(int64_t rows, int64_t cols, const T* logits, const int64_t* targets, T grad_loss,
                            T* gx);

// y = x / max(‖x‖, eps) per row; inv_norm[r] = 1 / max(‖x_r‖, eps).
template <class T>
void l2_normalize_forward(int64_t rows, int64_t cols, const T* x, T eps, T* y, T* inv_norm);
// gx = inv_norm · (g − y (y·g)) where the norm exceeded eps, else inv_norm · g.
template <class T>
void l2_normalize_backward(int64_t rows, int64_t cols, const T* y, const T* inv_norm, T eps, const T* g,
                           T* gx);

}  // namespace ssl::kernels::cpu
