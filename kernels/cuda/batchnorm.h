// CUDA batch normalisation, the GPU twin of kernels/batchnorm.h: the same functions, names and contracts
// (read those), all data pointers being device pointers. x is [n, c, hw] contiguous; gamma and beta may be
// nullptr (1 and 0). Per-channel sums are accumulated in double, as partial sums over fixed chunks of the
// channel (one block each) and then summed in chunk order: deterministic, no atomics
// (kernels/cuda/batchnorm.cu). Sizes are checked on the host before anything is queued (ssl::Error).
#pragma once

#include <cstdint>

#include "kernels/cuda/namespace.h"

namespace ssl::kernels::SSL_CUDA_NS {

// Requires n, c, hw >= 1, n*hw >= 2, eps >= 0; x, y, save_mean, save_invstd not null.
// Ensures y [n, c, hw]; save_mean, save_invstd [c]; batch_var [c] (biased) unless nullptr.
template <class T>
void batch_norm_forward_train(int64_t n, int64_t c, int64_t hw, const T* x, const T* gamma, const T* beta,
                              T eps, T* y, T* save_mean, T* save_invstd, T* batch_var);

// gx, ggamma and gbeta may each be nullptr; those given are OVERWRITTEN.
template <class T>
void batch_norm_backward_train(int64_t n, int64_t c, int64_t hw, const T* x, const T* gamma,
                               const T* save_mean, const T* save_invstd, const T* gy, T* gx, T* ggamma,
                               T* gbeta);

// y = max(0, bn(x)); save_scale and save_shift [c] (not null) receive the per-channel map, which backward
// uses to recompute the ReLU's mask from x.
template <class T>
void batch_norm_relu_forward_train(int64_t n, int64_t c, int64_t hw, const T* x, const T* gamma,
                                   const T* beta, T eps, T* y, T* save_mean, T* save_invstd, T* batch_var,
                                   T* save_scale, T* save_shift);

// batch_norm_backward_train of gy masked by the ReLU.
template <class T>
void batch_norm_relu_backward_train(int64_t n, int64_t c, int64_t hw, const T* x, const T* gamma,
                                    const T* save_mean, const T* save_invstd, const T* save_scale,
                                    const T* save_shift, const T* gy, T* gx, T* ggamma, T* gbeta);

// y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta.
template <class T>
void batch_norm_forward_eval(int64_t n, int64_t c, int64_t hw, const T* x, const T* gamma, const T* beta,
                             const T* running_mean, const T* running_var, T eps, T* y);

// gx = gy * gamma / sqrt(running_var + eps), OVERWRITTEN (not null).
template <class T>
void batch_norm_backward_eval(int64_t n, int64_t c, int64_t hw, const T* gamma, const T* running_var, T eps,
                              const T* gy, T* gx);

// The same with ggamma = sum(gy * (x - running_mean) / sqrt(running_var + eps)) and gbeta = sum(gy); each
// of gx, ggamma, gbeta may be nullptr; x and running_mean are only read when ggamma is wanted.
template <class T>
void batch_norm_backward_eval(int64_t n, int64_t c, int64_t hw, const T* x, const T* gamma,
                              const T* running_mean, const T* running_var, T eps, const T* gy, T* gx,
                              T* ggamma, T* gbeta);

}  // namespace ssl::kernels::SSL_CUDA_NS
