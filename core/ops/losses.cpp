// Losses beyond the fused cross-entropy of core/ops/softmax.cpp: label smoothing, binary cross-entropy with
// logits, mean squared error. Each returns a scalar, the mean over its elements (or rows).
#include "kernels/cuda/losses.h"
#include "core/ops.h"
#include "core/ops/op_helpers.h"
#include "core/ops_nn.h"
#include "kernels/losses.h"

namespace ssl {

// (1 − ε)·NLL + ε·mean_c(−log p_c), averaged over rows, as PyTorch's label_smoothing. Composed: the fused
// cross-entropy for the first term, log_softmax for the second; their backward formulas compose with it.
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, double label_smoothing) {
  SSL_CHECK(label_smoothing >= 0 && label_smoothing <= 1,
            "cross_entropy: label_smoothing must be in [0, 1], got ", label_smoothing);
  if (label_smoothing == 0) return cross_entropy(logits, targets);
  const Tensor smooth = neg(mean(log_softmax(logits, -1)));  // mean over rows and classes of −log p
  return add(mul(cross_entropy(logits, targets), 1 - label_smoothing), mul(smooth, label_smoothing));
}

// d bce: gx = (sigmoid(x) − t) · g / n, gt = −x · g / n
Tensor binary_cross_entropy_with_logits(const Tensor& logits_in, const Tensor& targets_in) {
  detail::check_inputs("binary_cross_entropy_with_logits", {logits_in, targets_in});
  detail::check_same_dtype("binary_cross_entropy_with_logits", logits_in, targets_in);
  SSL_CHECK(logits_in.shape() == targets_in.shape(), "binary_cross_entropy_with_logits: logits ",
            logits_in.shape(), " and targets ", targets_in.shape(), " differ in shape");
  SSL_CHECK(logits_in.numel() > 0, "binary_cross_entropy_with_logits: empty input");
  const Tensor x = logits_in.detach().contiguous(), t = targets_in.detach().contiguous();
  const int64_t n = x.numel();
  Tensor loss = Tensor::empty({}, x.dtype(), x.device());
  dispatch_floating(x.dtype(), "binary_cross_entropy_with_logits", [&]<class T>() {
    detail::on_device(
        x.device(),
        [&] { *loss.data<T>() = kernels::cpu::bce_with_logits_forward<T>(n, x.data<T>(), t.data<T>()); },
        [&] { kernels::cuda::bce_with_logits_forward<T>(n, x.data<T>(), t.data<T>(), loss.data<T>()); });
  });
  return record("binary_cross_entropy_with_logits", loss, {logits_in, targets_in}, {x, t},
                [x, t, n](const Tensor& g, const std::vector<bool>& needs) {
                  std::vector<Tensor> grads = detail::gradient_buffers(x, {x.shape(), t.shape()}, needs);
                  dispatch_floating(x.dtype(), "binary_cross_entropy_with_logits_backward", [&]<class T>() {
                    T *gxp = detail::ptr_or_null<T>(grads[0]), *gtp = detail::ptr_or_null<T>(grads[1]);
                    detail::on_device(
                        x.device(),
                        [&] {
                          kernels::cpu::bce_with_logits_backward<T>(n, x.data<T>(), t.data<T>(), T(g.item()),
                                                                    gxp, gtp);
                        },
                        [&] {
                          const Tensor gc = g.contiguous();
                          kernels::cuda::bce_with_logits_backward<T>(n, x.data<T>(), t.data<T>(),
                                                                     gc.data<T>(), gxp, gtp);
                        });
                  });
                  return grads;
                });
}

// mean((a − b)²) over a and b of one shape, composed (sub and mul carry the backward: 2(a − b)·g/n).
Tensor mse_loss(const Tensor& a, const Tensor& b) {
  SSL_CHECK(a.defined() && b.defined(), "mse_loss: an input is undefined");
  SSL_CHECK(a.shape() == b.shape(), "mse_loss: shapes ", a.shape(), " and ", b.shape(), " differ");
  const Tensor d = sub(a, b);
  return mean(mul(d, d));
}

}  // namespace ssl
