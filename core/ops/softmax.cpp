// Softmax, log-softmax, cross-entropy and L2 normalisation: row-wise over the last dim (other dims are
// moved there first), each fused into one kernel per direction.
#include "kernels/cuda/softmax.h"
#include "core/ops.h"
#include "core/ops/op_helpers.h"
#include "kernels/softmax.h"

namespace ssl {

namespace {
int64_t rows_of(const Tensor& x) { return x.numel() / std::max<int64_t>(1, x.size(-1)); }

// Runs the row-wise op `op_name` on `dim` by moving that dim last and back.
template <class Op>
Tensor along_dim(const char* op_name, const Tensor& x, int64_t dim, Op op) {
  dim = wrap_dim(dim, x.dim(), op_name);
  if (dim == x.dim() - 1) return op(x);
  return op(x.transpose(dim, -1)).transpose(dim, -1);
}
}  // namespace

// d softmax: gx = y ⊙ (g − Σ g y)
Tensor softmax(const Tensor& x_in, int64_t dim) {
  detail::check_inputs("softmax", {x_in});
  return along_dim("softmax", x_in, dim, [](const Tensor& x_view) {
    const Tensor x = x_view.contiguous();
    Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
    const int64_t rows = rows_of(x), cols = x.size(-1);
    dispatch_floating(x.dtype(), "softmax", [&]<class T>() {
      detail::on_device(
          x.device(), [&] { kernels::cpu::softmax_forward<T>(rows, cols, x.data<T>(), y.data<T>()); },
          [&] { kernels::cuda::softmax_forward<T>(rows, cols, x.data<T>(), y.data<T>()); });
    });
    return record(
        "softmax", y, {x}, {y}, [y = y.detach(), rows, cols](const Tensor& g_in, const std::vector<bool>&) {
          const Tensor g = g_in.contiguous();
          Tensor gx = Tensor::empty(g.shape(), g.dtype(), g.device());
          dispatch_floating(g.dtype(), "softmax_backward", [&]<class T>() {
            detail::on_device(
                g.device(),
                [&] {
                  kernels::cpu::softmax_backward<T>(rows, cols, y.data<T>(), g.data<T>(), gx.data<T>());
                },
                [&] {
                  kernels::cuda::softmax_backward<T>(rows, cols, y.data<T>(), g.data<T>(), gx.data<T>());
                });
          });
          return std::vector{gx};
        });
  });
}

// d log_softmax: gx = g − exp(y) Σ g
Tensor log_softmax(const Tensor& x_in, int64_t dim) {
  detail::check_inputs("log_softmax", {x_in});
  return along_dim("log_softmax", x_in, dim, [](const Tensor& x_view) {
    const Tensor x = x_view.contiguous();
    Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
    const int64_t rows = rows_of(x), cols = x.size(-1);
    dispatch_floating(x.dtype(), "log_softmax", [&]<class T>() {
      detail::on_device(
          x.device(), [&] { kernels::cpu::log_softmax_forward<T>(rows, cols, x.data<T>(), y.data<T>()); },
          [&] { kernels::cuda::log_softmax_forward<T>(rows, cols, x.data<T>(), y.data<T>()); });
    });
    return record(
        "log_softmax", y, {x}, {y},
        [y = y.detach(), rows, cols](const Tensor& g_in, const std::vector<bool>&) {
          const Tensor g = g_in.contiguous();
          Tensor gx = Tensor::empty(g.shape(), g.dtype(), g.device());
          dispatch_floating(g.dtype(), "log_softmax_backward", [&]<class T>() {
            detail::on_device(
                g.device(),
                [&] {
                  kernels::cpu::log_softmax_backward<T>(rows, cols, y.data<T>(), g.data<T>(), gx.data<T>());
                },
                [&] {
                  kernels::cuda::log_softmax_backward<T>(rows, cols, y.data<T>(), g.data<T>(), gx.data<T>());
                });
          });
          return std::vector{gx};
        });
  });
}

// d cross_entropy: (softmax − onehot) · g / N
Tensor cross_entropy(const Tensor& logits_in, const Tensor& targets_in) {
  detail::check_inputs("cross_entropy", {logits_in, targets_in});
  SSL_CHECK(logits_in.dim() == 2, "cross_entropy: expected logits [N, C], got ", logits_in.shape());
  SSL_CHECK(
      targets_in.dtype() == DType::i64 && targets_in.dim() == 1 && targets_in.size(0) == logits_in.size(0),
      "cross_entropy: expected int64 targets [", logits_in.size(0), "], got ", dtype_name(targets_in.dtype()),
      " ", targets_in.shape());
  SSL_CHECK(logits_in.size(0) > 0, "cross_entropy: empty batch");
  const Tensor logits = logits_in.detach().contiguous(), targets = targets_in.contiguous();
  const int64_t rows = logits.size(0), cols = logits.size(1);
  Tensor loss = Tensor::empty({}, logits.dtype(), logits.device());
  dispatch_floating(logits.dtype(), "cross_entropy", [&]<class T>() {
    const int64_t* t = targets.data<int64_t>();
    detail::on_device(
        logits.device(),
        [&] { *loss.data<T>() = kernels::cpu::cross_entropy_forward<T>(rows, cols, logits.data<T>(), t); },
        [&] {
          // The kernel also writes each row's log-sum-exp, which only NT-Xent's kernels keep.
          const Tensor lse = Tensor::empty({rows}, logits.dtype(), logits.device());
          kernels::cuda::cross_entropy_forward<T>(rows, cols, logits.data<T>(), t, lse.data<T>(),
                                                  loss.data<T>());
        });
  });
  return record("cross_entropy", loss, {logits_in}, {logits, targets},
                [=](const Tensor& g, const std::vector<bool>&) {
                  Tensor gx = Tensor::empty(logits.shape(), logits.dtype(), logits.device());
                  dispatch_floating(logits.dtype(), "cross_entropy_backward", [&]<class T>() {
                    const int64_t* t = targets.data<int64_t>();
                    detail::on_device(
                        logits.device(),
                        [&] {
                          kernels::cpu::cross_entropy_backward<T>(rows, cols, logits.data<T>(), t,
                                                                  T(g.item()), gx.data<T>());
                        },
                        [&] {
                          const Tensor gc = g.contiguous();
                          kernels::cuda::cross_entropy_backward<T>(rows, cols, logits.data<T>(), t,
                                                                   gc.data<T>(), gx.data<T>());
                        });
                  });
                  return std::vector{gx};
                });
}

// d (x/‖x‖): gx = (g − y (y·g)) / ‖x‖
Tensor l2_normalize(const Tensor& x_in, int64_t dim, double eps) {
  detail::check_inputs("l2_normalize", {x_in});
  return along_dim("l2_normalize", x_in, dim, [eps](const Tensor& x_view) {
    const Tensor x = x_view.contiguous();
    const int64_t rows = rows_of(x), cols = x.size(-1);
    Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
    Tensor inv_norm = Tensor::empty({rows}, x.dtype(), x.device());
    dispatch_floating(x.dtype(), "l2_normalize", [&]<class T>() {
      detail::on_device(
          x.device(),
          [&] {
            kernels::cpu::l2_normalize_forward<T>(rows, cols, x.data<T>(), T(eps), y.data<T>(),
                                                  inv_norm.data<T>());
          },
          [&] {
            kernels::cuda::l2_normalize_forward<T>(rows, cols, x.data<T>(), T(eps), y.data<T>(),
                                                   inv_norm.data<T>());
          });
    });
    return record(
        "l2_normalize", y, {x}, {y},
        [y = y.detach(), inv_norm, rows, cols, eps](const Tensor& g_in, const std::vector<bool>&) {
          const Tensor g = g_in.contiguous();
          Tensor gx = Tensor::empty(g.shape(), g.dtype(), g.device());
          dispatch_floating(g.dtype(), "l2_normalize_backward", [&]<class T>() {
            detail::on_device(
                g.device(),
                [&] {
                  kernels::cpu::l2_normalize_backward<T>(rows, cols, y.data<T>(), inv_norm.data<T>(), T(eps),
                                                         g.data<T>(), gx.data<T>());
                },
                [&] {
                  kernels::cuda::l2_normalize_backward<T>(rows, cols, y.data<T>(), inv_norm.data<T>(), T(eps),
                                                          g.data<T>(), gx.data<T>());
                });
          });
          return std::vector{gx};
        });
  });
}

}  // namespace ssl
