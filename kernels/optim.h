// Optimizer updates on flat parameter buffers, in place. Same conventions as PyTorch's SGD and Adam.
#pragma once

#include <cstdint>

namespace ssl::kernels::cpu {

// g' = g + wd·p; buf = momentum·buf + g' (buf = g' on the first step); step = nesterov ? g' + momentum·buf :
// buf; p −= lr·step. `buf` is unused when momentum is 0.
template <class T>
void sgd_step(int64_t n, T* p, const T* g, T* buf, T lr, T momentum, T weight_decay, bool nesterov,
              bool first_step);

// g' = g + wd·p; m = β1·m + (1−β1)·g'; v = β2·v + (1−β2)·g'²;
// p −= lr · (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + eps), with t the 1-based step number.
template <class T>
void adam_step(int64_t n, T* p, const T* g, T* m, T* v, T lr, T beta1, T beta2, T eps, T weight_decay,
               int64_t t);

// AdamW (decoupled weight decay): p −= lr·wd·p, then the Adam step above with no decay in the gradient.
template <class T>
void adamw_step(int64_t n, T* p, const T* g, T* m, T* v, T lr, T beta1, T beta2, T eps, T weight_decay,
                int64_t t);

// LARS as SimCLR uses it. For an adapted tensor: g' = g + wd·p and trust = eta·‖p‖/‖g'‖ (1 when either norm
// is 0); for an excluded one (biases, BatchNorm parameters): g' = g and trust = 1. Then
// buf = momentum·buf + lr·trust·g'; p −= nesterov ? momentum·buf + lr·trust·g' : buf.
template <class T>
void lars_step(int64_t n, T* p, const T* g, T* buf, T lr, T momentum, T weight_decay, T eta, bool adapt,
               bool nesterov);

// Σ x² in double (for gradient clipping and trust ratios).
template <class T>
double sum_of_squares(int64_t n, const T* x);

}  // namespace ssl::kernels::cpu
