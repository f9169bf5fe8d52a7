// Element-wise loss kernels on contiguous buffers of n elements.
#pragma once

#include <cstdint>

namespace ssl::kernels::cpu {

// Returns mean_i [max(x_i, 0) − x_i t_i + log(1 + e^{−|x_i|})], the binary cross-entropy of sigmoid(x_i)
// against t_i written so that neither e^{x} nor log(0) can overflow. Summed in double. Requires n >= 1.
template <class T>
T bce_with_logits_forward(int64_t n, const T* x, const T* t);
// gx = (sigmoid(x) − t) · grad_loss / n and gt = −x · grad_loss / n; either may be nullptr.
template <class T>
void bce_with_logits_backward(int64_t n, const T* x, const T* t, T grad_loss, T* gx, T* gt);

}  // namespace ssl::kernels::cpu
