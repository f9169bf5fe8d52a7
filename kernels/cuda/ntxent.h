// NT-Xent on the GPU: the CUDA twins of kernels::cpu::ntxent_forward / ntxent_backward (kernels/ntxent.h,
// which defines the loss, NtXentShape, the NtXentSaved workspace and the cross_view_only variant). Every
// data pointer is a device pointer; the shape is a host struct. Work is queued on stream() and nothing
// waits for the device. Versions (see kernels/cuda/ntxent.cu): _v1 materialises the 2N x 2N similarity
// matrix, _v2 is fused and never stores it; the unsuffixed functions call the fastest (_v2).
#pragma once

#include "kernels/cuda/namespace.h"
#include "kernels/ntxent.h"

namespace ssl::kernels::SSL_CUDA_NS {

using ssl::kernels::NtXentSaved;
using ssl::kernels::NtXentShape;

// Requires: two_n even and >= 2, d >= 1, temperature > 0 and finite, non-null pointers (otherwise throws
//           ssl::Error before anything is queued); z [two_n, d]; loss a device scalar.
// Ensures:  *loss = the mean loss over the 2N anchors; saved.zn, saved.inv_norm and saved.lse fully
//           written. Deterministic: the same bits on every run (no floating-point atomics).
template <class T>
void ntxent_forward(const NtXentShape& s, const T* z, T temperature, NtXentSaved<T> saved, T* loss);
template <class T>
void ntxent_forward_v1(const NtXentShape& s, const T* z, T temperature, NtXentSaved<T> saved, T* loss);
template <class T>
void ntxent_forward_v2(const NtXentShape& s, const T* z, T temperature, NtXentSaved<T> saved, T* loss);

// Requires: as the forward; saved filled by a forward on the same z, shape and temperature; grad_loss a
//           device scalar.
// Ensures:  gz [two_n, d] = the gradient of (*grad_loss) * loss with respect to z, OVERWRITTEN (not
//           accumulated into). Deterministic.
template <class T>
void ntxent_backward(const NtXentShape& s, T temperature, NtXentSaved<const T> saved, const T* grad_loss,
                     T* gz);
template <class T>
void ntxent_backward_v1(const NtXentShape& s, T temperature, NtXentSaved<const T> saved, const T* grad_loss,
                        T* gz);
template <class T>
void ntxent_backward_v2(const NtXentShape& s, T temperature, NtXentSaved<const T> saved, const T* grad_loss,
                        T* gz);

}  // namespace ssl::kernels::SSL_CUDA_NS
