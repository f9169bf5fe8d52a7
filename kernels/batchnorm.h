// Batch normalisation kernels. x is [n, c, hw] contiguous (NCHW with hw = H*W; hw = 1 for BatchNorm1d on
// [n, c]); every channel is normalised over its n*hw values:
//   y = (x - mean) * invstd * gamma + beta,   invstd = 1 / sqrt(var + eps)
// Training uses the batch's mean and biased variance; evaluation uses the running statistics.
// gamma and beta may be nullptr, meaning 1 and 0 (affine = false). Statistics are accumulated in double
// (each contiguous run of H*W values first in the data's type).
#pragma once

#include <cstdint>

namespace ssl::kernels::cpu {

// Requires n, c, hw >= 1 and n*hw >= 2 (one value per channel has no variance; PyTorch refuses it too).
// Ensures: y [n, c, hw]; save_mean and save_invstd [c] (what backward needs); batch_var [c], the biased
// variance, so that the caller can update the running variance (with its own n*hw/(n*hw - 1) correction,
// as PyTorch does). batch_var may be nullptr.
template <class T>
void batch_norm_forward_train(int64_t n, int64_t c, int64_t hw, const T* x, const T* gamma, const T* beta,
                              T eps, T* y, T* save_mean, T* save_invstd, T* batch_var);

// The full training-mode derivative, through the batch mean and variance:
//   xhat = (x - mean) * invstd
//   gx     = gamma * invstd * (gy - mean(gy) - xhat * mean(gy * xhat))     (means over the channel's n*hw)
//   ggamma = sum(gy * xhat),   gbeta = sum(gy)
// gx, ggamma and gbeta may each be nullptr; those given are OVERWRITTEN.
template <class T>
void batch_norm_backward_train(int64_t n, int64_t c, int64_t hw, const T* x, const T* gamma,
                               const T* save_mean, const T* save_invstd, const T* gy, T* gx, T* ggamma,
                               T* gbeta);

// Batch norm fused with the ReLU after it (training mode): y = max(0, bn(x)), one pass to read x for the
// statistics and one to write y, instead of BN's and then the ReLU's. save_scale and save_shift [c] receive
// the per-channel map forward applied, y = max(0, (x - save_mean) * save_scale + save_shift); backward
// recomputes the ReLU's mask from x with it, so neither y nor a mask has to be kept or read back.
template <class T>
void batch_norm_relu_forward_train(int64_t n, int64_t c, int64_t hw, const T* x, const T* gamma,
                                   const T* beta, T eps, T* y, T* save_mean, T* save_invstd, T* batch_var,
                                   T* save_scale, T* save_shift);

// The same, with the statistics from per-plane moments the kernel that produced x recorded (a convolution
// called with `moments`): plane_mean[i*c + ch] and plane_m2[i*c + ch] are the mean and Σ (x - mean)² of
// channel ch of image i (kernels/cpu/plane_moments.h). The planes are merged in image order (Chan et al.'s
// pairwise update, in double), so the result does not depend on the thread count, and x is read only once,
// to write y. Results agree with batch_norm_relu_forward_train to rounding.
template <class T>
void batch_norm_relu_forward_train_moments(int64_t n, int64_t c, int64_t hw, const double* plane_mean,
                                           const double* plane_m2, const T* x, const T* gamma, const T* beta,
                                           T eps, T* y, T* save_mean, T* save_invstd, T* batch_var,
                                           T* save_scale, T* save_shift);

// batch_norm_backward_train of gy masked by the ReLU (gy is dL/dy of the fused output).
template <class T>
void batch_norm_relu_backward_train(int64_t n, int64_t c, int64_t hw, const T* x, const T* gamma,
                                    const T* save_mean, const T* save_invstd, const T* save_scale,
                                    const T* save_shift, const T* gy, T* gx, T* ggamma, T* gbeta);

// Requires n, c, hw >= 1. y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta.
template <class T>
void batch_norm_forward_eval(int64_t n, int64_t c, int64_t hw, const T* x, const T* gamma, const T* beta,
                             const T* running_mean, const T* running_var, T eps, T* y);

// The statistics are constants here, so the layer is affine: gx = gy * gamma / sqrt(running_var + eps).
// gx is OVERWRITTEN.
template <class T>
void batch_norm_backward_eval(int64_t n, int64_t c, int64_t hw, const T* gamma, const T* running_var, T eps,
                              const T* gy, T* gx);

// The same, with the parameter gradients too (fine-tuning gamma/beta with frozen statistics):
//   ggamma = sum(gy * (x - running_mean) / sqrt(running_var + eps)),  gbeta = sum(gy).
// gx, ggamma and gbeta may each be nullptr; those given are OVERWRITTEN. x and running_mean are only read
// when ggamma is wanted.
template <class T>
void batch_norm_backward_eval(int64_t n, int64_t c, int64_t hw, const T* x, const T* gamma,
                              const T* running_mean, const T* running_var, T eps, const T* gy, T* gx,
                              T* ggamma, T* gbeta);

}  // namespace ssl::kernels::cpu
