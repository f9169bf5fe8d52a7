// The softmax family on the GPU: row-wise kernels on contiguous [rows, cols] matrices, the CUDA twins of
// kernels::cpu in kernels/softmax.h (same names, same meaning; every data pointer is a device pointer).
// Each row is handled by one warp (cols <= 1024) or by one block of 256 threads (longer rows), which
// reduce with warp shuffles (kernels/cuda/reduce_block.cuh). Everything is queued on stream(); nothing
// synchronises with the host. Results are deterministic (fixed reduction order).
#pragma once

#include <cstdint>

#include "kernels/cuda/namespace.h"

namespace ssl::kernels::SSL_CUDA_NS {

// Requires: x, y [rows, cols]. Ensures: y = softmax(x) per row (max subtracted first, as on the CPU).
template <class T>
void softmax_forward(int64_t rows, int64_t cols, const T* x, T* y);
// Requires: y = softmax_forward's output, g the gradient of y. Ensures: gx = y ⊙ (g − Σ_j g_j y_j).
template <class T>
void softmax_backward(int64_t rows, int64_t cols, const T* y, const T* g, T* gx);

// Ensures: y = x − logsumexp(x) per row.
template <class T>
void log_softmax_forward(int64_t rows, int64_t cols, const T* x, T* y);
// Requires: y = log_softmax_forward's output. Ensures: gx = g − exp(y) Σ_j g_j.
template <class T>
void log_softmax_backward(int64_t rows, int64_t cols, const T* y, const T* g, T* gx);

// Requires: logits [rows, cols], targets [rows] (device), lse [rows], out a device scalar.
// Ensures: *out = mean over rows of lse(x_r) − x_r[target_r] (summed in double, in a fixed order) and
// lse[r] = logsumexp of row r. A target outside [0, cols) cannot throw without waiting for the device:
// it makes *out NaN instead (the CPU twin throws ssl::Error).
template <class T>
void cross_entropy_forward(int64_t rows, int64_t cols, const T* logits, const int64_t* targets, T* lse,
                           T* out);
// Requires: grad_loss a device scalar. Ensures: gx = (softmax(x) − onehot(target)) · grad_loss / rows, each
// row's max and log-sum recomputed as on the CPU (kernels/softmax.h).
template <class T>
void cross_entropy_backward(int64_t rows, int64_t cols, const T* logits, const int64_t* targets,
                            const T* grad_loss, T* gx);

// Ensures: y = x / max(‖x‖, eps) per row and inv_norm[r] = 1 / max(‖x_r‖, eps).
template <class T>
void l2_normalize_forward(int64_t rows, int64_t cols, const T* x, T eps, T* y, T* inv_norm);
// Requires: y, inv_norm from l2_normalize_forward with the same eps.
// Ensures: gx = inv_norm · (g − y (y·g)) where the norm exceeded eps, else inv_norm · g. gx may be g itself
// (every element is read before it is overwritten).
template <class T>
void l2_normalize_backward(int64_t rows, int64_t cols, const T* y, const T* inv_norm, T eps, const T* g,
                           T* gx);

}  // namespace ssl::kernels::SSL_CUDA_NS
