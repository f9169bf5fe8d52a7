// Fused optimizer steps on the GPU: the same functions as kernels::cpu in kernels/optim.h, on device
// pointers, in place, one kernel pass over the parameter's buffers (LARS adds one reading pass for the
// norms). Queued on stream(); no host synchronisation.
#pragma once

#include <cstdint>

#include "kernels/cuda/namespace.h"

namespace ssl::kernels::SSL_CUDA_NS {

// Requires: p, g (and buf when momentum != 0) device buffers of n elements. Ensures: as
// kernels::cpu::sgd_step.
template <class T>
void sgd_step(int64_t n, T* p, const T* g, T* buf, T lr, T momentum, T weight_decay, bool nesterov,
              bool first_step);

// Requires: p, g, m, v device buffers of n elements, t >= 1. Ensures: as kernels::cpu::adam_step.
template <class T>
void adam_step(int64_t n, T* p, const T* g, T* m, T* v, T lr, T beta1, T beta2, T eps, T weight_decay,
               int64_t t);

// Ensures: as kernels::cpu::adamw_step (decay and Adam step fused into one pass).
template <class T>
void adamw_step(int64_t n, T* p, const T* g, T* m, T* v, T lr, T beta1, T beta2, T eps, T weight_decay,
                int64_t t);

// Ensures: as kernels::cpu::lars_step. The norms of p and g are reduced on the device (per-block partial
// sums in double, then one block sums the partials in a fixed order into the trust ratio that every block of
// the update reads), so the result is deterministic and needs no host round trip.
template <class T>
void lars_step(int64_t n, T* p, const T* g, T* buf, T lr, T momentum, T weight_decay, T eta, bool adapt,
               bool nesterov);

// Ensures: *out (a device double) = Σ x² accumulated in double, as kernels::cpu::sum_of_squares returns it;
// deterministic (fixed-order two-stage reduction), equal to the CPU's up to rounding order.
template <class T>
void sum_of_squares(int64_t n, const T* x, double* out);

}  // namespace ssl::kernels::SSL_CUDA_NS
