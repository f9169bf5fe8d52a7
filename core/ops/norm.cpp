// Batch normalisation and dropout: the two ops whose behaviour depends on training vs evaluation.
#include "core/ops.h"
#include "core/ops/op_helpers.h"
#include "kernels/batchnorm.h"
#include "kernels/conv.h"
#include "kernels/cuda/batchnorm.h"

#include <algorithm>

namespace ssl {

namespace {
using detail::ptr_or_null;

// The gradient buffers batch norm's backward fills: x's, gamma's and beta's, each only where wanted.
std::vector<Tensor> gradient_buffers(const Tensor& x, int64_t c, const std::vector<bool>& needs) {
  return detail::gradient_buffers(x, {x.shape(), {c}, {c}}, needs);
}

struct BatchNormSizes {
  int64_t n, c, hw;
};

// Checks batch norm's arguments; returns x viewed as [n, c, hw].
BatchNormSizes check_batch_norm(const char* op, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                const Tensor& running_mean, const Tensor& running_var, bool training) {
  detail::check_inputs(op, {x});
  SSL_CHECK(x.dim() == 2 || x.dim() == 4, op, ": expected x [N, C] or [N, C, H, W], got ", x.shape());
  const int64_t n = x.size(0), c = x.size(1), hw = x.numel() / std::max<int64_t>(1, n * c);
  for (const Tensor* p : std::initializer_list<const Tensor*>{&gamma, &beta, &running_mean, &running_var}) {
    if (p->defined()) {
      SSL_CHECK(p->dim() == 1 && p->size(0) == c, op, ": per-channel tensor of shape ", p->shape(), " for ",
                c, " channels");
      detail::check_inputs(op, {x, *p});  // parameters and statistics on x's device
      detail::check_same_dtype(op, x, *p);
    }
  }
  SSL_CHECK(training || (running_mean.defined() && running_var.defined()), op,
            ": evaluation mode needs running statistics");
  SSL_CHECK(running_mean.defined() == running_var.defined(), op,
            ": running_mean and running_var go together (one alone would be neither used nor updated)");
  if (training && running_mean.defined()) {
    // Training writes the statistics in place: into a tensor autograd tracks, or into memory that x, gamma or
    // beta also use, that write would change values the gradient is computed from.
    SSL_CHECK(!running_mean.requires_grad() && !running_var.requires_grad(), op,
              ": the running statistics are written in training and must not require grad");
    for (const Tensor* p : std::initializer_list<const Tensor*>{&x, &gamma, &beta, &running_var})
      SSL_CHECK(!p->defined() || p->storage() != running_mean.storage(), op,
                ": running_mean shares memory with another argument; training writes it in place");
    for (const Tensor* p : std::initializer_list<const Tensor*>{&x, &gamma, &beta})
      SSL_CHECK(!p->defined() || p->storage() != running_var.storage(), op,
                ": running_var shares memory with another argument; training writes it in place");
  }
  SSL_CHECK(!training || n * hw >= 2, op, ": training needs more than one value per channel, got input ",
            x.shape());
  return {n, c, hw};
}

// PyTorch's convention: running_var tracks the unbiased variance.
void update_running_stats(Tensor& running_mean, Tensor& running_var, const Tensor& mean, const Tensor& var,
                          int64_t count, double momentum) {
  if (!running_mean.defined() || !running_var.defined()) return;
  NoGradGuard no_grad;
  const double unbias = double(count) / double(count - 1);
  running_mean.copy_(add(mul(running_mean, 1 - momentum), mul(mean, momentum)));
  running_var.copy_(add(mul(running_var, 1 - momentum), mul(var, momentum * unbias)));
}

Tensor contiguous_or_undefined(const Tensor& t) { return t.defined() ? t.detach().contiguous() : Tensor(); }

}  // namespace

Tensor batch_norm(const Tensor& x_in, const Tensor& gamma_in, const Tensor& beta_in, Tensor running_mean,
                  Tensor running_var, bool training, double momentum, double eps) {
  const BatchNormSizes size =
      check_batch_norm("batch_norm", x_in, gamma_in, beta_in, running_mean, running_var, training);
  const int64_t n = size.n, c = size.c, hw = size.hw;  // plain variables: lambdas below capture them
  const Tensor x = x_in.detach().contiguous();
  const Tensor gamma = contiguous_or_undefined(gamma_in), beta = contiguous_or_undefined(beta_in);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());

  if (!training) {
    const Tensor rm = running_mean.detach().contiguous(), rv = running_var.detach().contiguous();
    dispatch_floating(x.dtype(), "batch_norm", [&]<class T>() {
      const T *g = ptr_or_null<T>(gamma), *b = ptr_or_null<T>(beta);
      detail::on_device(
          x.device(),
          [&] {
            kernels::cpu::batch_norm_forward_eval<T>(n, c, hw, x.data<T>(), g, b, rm.data<T>(), rv.data<T>(),
                                                     T(eps), y.data<T>());
          },
          [&] {
            kernels::cuda::batch_norm_forward_eval<T>(n, c, hw, x.data<T>(), g, b, rm.data<T>(), rv.data<T>(),
                                                      T(eps), y.data<T>());
          });
    });
    // Frozen statistics: the layer is affine in x.
    return record("batch_norm_eval", y, {x_in, gamma_in, beta_in}, {x, gamma, rm, rv},
                  [=](const Tensor& g_in, const std::vector<bool>& needs) {
                    const Tensor g = g_in.contiguous();
                    std::vector<Tensor> grads = gradient_buffers(x, c, needs);
                    Tensor &gx = grads[0], &gg = grads[1], &gb = grads[2];
                    dispatch_floating(x.dtype(), "batch_norm_backward", [&]<class T>() {
                      const T* gm = ptr_or_null<T>(gamma);
                      T *gxp = ptr_or_null<T>(gx), *ggp = ptr_or_null<T>(gg), *gbp = ptr_or_null<T>(gb);
                      detail::on_device(
                          x.device(),
                          [&] {
                            kernels::cpu::batch_norm_backward_eval<T>(n, c, hw, x.data<T>(), gm, rm.data<T>(),
                                                                      rv.data<T>(), T(eps), g.data<T>(), gxp,
                                                                      ggp, gbp);
                          },
                          [&] {
                            kernels::cuda::batch_norm_backward_eval<T>(n, c, hw, x.data<T>(), gm,
                                                                       rm.data<T>(), rv.data<T>(), T(eps),
                                                                       g.data<T>(), gxp, ggp, gbp);
                          });
                    });
                    return grads;
                  });
  }

  Tensor mean = Tensor::empty({c}, x.dtype(), x.device());
  Tensor invstd = Tensor::empty({c}, x.dtype(), x.device());
  Tensor var = Tensor::empty({c}, x.dtype(), x.device());
  dispatch_floating(x.dtype(), "batch_norm", [&]<class T>() {
    const T *g = ptr_or_null<T>(gamma), *b = ptr_or_null<T>(beta);
    detail::on_device(
        x.device(),
        [&] {
          kernels::cpu::batch_norm_forward_train<T>(n, c, hw, x.data<T>(), g, b, T(eps), y.data<T>(),
                                                    mean.data<T>(), invstd.data<T>(), var.data<T>());
        },
        [&] {
          kernels::cuda::batch_norm_forward_train<T>(n, c, hw, x.data<T>(), g, b, T(eps), y.data<T>(),
                                                     mean.data<T>(), invstd.data<T>(), var.data<T>());
        });
  });
  update_running_stats(running_mean, running_var, mean, var, n * hw, momentum);
  return record(
      "batch_norm", y, {x_in, gamma_in, beta_in}, {x, gamma},
      [=](const Tensor& g_in, const std::vector<bool>& needs) {
        const Tensor g = g_in.contiguous();
        std::vector<Tensor> grads = gradient_buffers(x, c, needs);
        Tensor &gx = grads[0], &gg = grads[1], &gb = grads[2];
        dispatch_floating(x.dtype(), "batch_norm_backward", [&]<class T>() {
          const T* gm = ptr_or_null<T>(gamma);
          T *gxp = ptr_or_null<T>(gx), *ggp = ptr_or_null<T>(gg), *gbp = ptr_or_null<T>(gb);
          detail::on_device(
              x.device(),
              [&] {
                kernels::cpu::batch_norm_backward_train<T>(n, c, hw, x.data<T>(), gm, mean.data<T>(),
                                                           invstd.data<T>(), g.data<T>(), gxp, ggp, gbp);
              },
              [&] {
                kernels::cuda::batch_norm_backward_train<T>(n, c, hw, x.data<T>(), gm, mean.data<T>(),
                                                            invstd.data<T>(), g.data<T>(), gxp, ggp, gbp);
              });
        });
        return grads;
      });
}

namespace {

// batch_norm_relu; in training with `moments`, the per-plane moments of x its producer recorded.
Tensor batch_norm_relu(const Tensor& x_in, const Tensor& gamma_in, const Tensor& beta_in, Tensor running_mean,
                       Tensor running_var, bool training, double momentum, double eps,
                       const std::vector<double>* moments) {
  // Evaluation mode is affine and cheap; only training gains from the fused kernels.
  if (!training)
    return relu(batch_norm(x_in, gamma_in, beta_in, running_mean, running_var, false, momentum, eps));
  const BatchNormSizes size =
      check_batch_norm("batch_norm_relu", x_in, gamma_in, beta_in, running_mean, running_var, training);
  const int64_t n = size.n, c = size.c, hw = size.hw;
  const Tensor x = x_in.detach().contiguous();
  const Tensor gamma = contiguous_or_undefined(gamma_in), beta = contiguous_or_undefined(beta_in);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor mean = Tensor::empty({c}, x.dtype(), x.device()), invstd = Tensor::empty({c}, x.dtype(), x.device());
  Tensor var = Tensor::empty({c}, x.dtype(), x.device());
  Tensor scale = Tensor::empty({c}, x.dtype(), x.device()), shift = Tensor::empty({c}, x.dtype(), x.device());
  dispatch_floating(x.dtype(), "batch_norm_relu", [&]<class T>() {
    const T *g = ptr_or_null<T>(gamma), *b = ptr_or_null<T>(beta);
    detail::on_device(
        x.device(),
        [&] {
          if (moments)
            kernels::cpu::batch_norm_relu_forward_train_moments<T>(
                n, c, hw, moments->data(), moments->data() + n * c, x.data<T>(), g, b, T(eps), y.data<T>(),
                mean.data<T>(), invstd.data<T>(), var.data<T>(), scale.data<T>(), shift.data<T>());
          else
            kernels::cpu::batch_norm_relu_forward_train<T>(n, c, hw, x.data<T>(), g, b, T(eps), y.data<T>(),
                                                           mean.data<T>(), invstd.data<T>(), var.data<T>(),
                                                           scale.data<T>(), shift.data<T>());
        },
        [&] {
          kernels::cuda::batch_norm_relu_forward_train<T>(n, c, hw, x.data<T>(), g, b, T(eps), y.data<T>(),
                                                          mean.data<T>(), invstd.data<T>(), var.data<T>(),
                                                          scale.data<T>(), shift.data<T>());
        });
  });
  update_running_stats(running_mean, running_var, mean, var, n * hw, momentum);
  // Backward keeps x and five per-channel vectors, not y: the ReLU's mask is recomputed from x.
  return record("batch_norm_relu", y, {x_in, gamma_in, beta_in}, {x, gamma},
                [=](const Tensor& g_in, const std::vector<bool>& needs) {
                  const Tensor g = g_in.contiguous();
                  std::vector<Tensor> grads = gradient_buffers(x, c, needs);
                  Tensor &gx = grads[0], &gg = grads[1], &gb = grads[2];
                  dispatch_floating(x.dtype(), "batch_norm_relu_backward", [&]<class T>() {
                    const T* gm = ptr_or_null<T>(gamma);
                    T *gxp = ptr_or_null<T>(gx), *ggp = ptr_or_null<T>(gg), *gbp = ptr_or_null<T>(gb);
                    detail::on_device(
                        x.device(),
                        [&] {
                          kernels::cpu::batch_norm_relu_backward_train<T>(
                              n, c, hw, x.data<T>(), gm, mean.data<T>(), invstd.data<T>(), scale.data<T>(),
                              shift.data<T>(), g.data<T>(), gxp, ggp, gbp);
                        },
                        [&] {
                          kernels::cuda::batch_norm_relu_backward_train<T>(
                              n, c, hw, x.data<T>(), gm, mean.data<T>(), invstd.data<T>(), scale.data<T>(),
                              shift.data<T>(), g.data<T>(), gxp, ggp, gbp);
                        });
                  });
                  return grads;
                });
}

}  // namespace

Tensor batch_norm_relu(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor running_mean,
                       Tensor running_var, bool training, double momentum, double eps) {
  return batch_norm_relu(x, gamma, beta, std::move(running_mean), std::move(running_var), training, momentum,
                         eps, nullptr);
}

namespace {
// The smallest output plane whose convolution records the moments; the second where conv2d runs the depthwise
// kernel (Conv2dShape::is_depthwise, a 1-channel to 1-channel convolution included).
constexpr int64_t kMinMomentsPlane = 256, kMinMomentsPlaneDepthwise = 1024;
}  // namespace

Tensor conv2d_batch_norm_relu(const Tensor& x, const Tensor& w, Conv2dArgs args, const Tensor& gamma,
                              const Tensor& beta, Tensor running_mean, Tensor running_var, bool training,
                              double momentum, double eps) {
  // Evaluation normalises with the running statistics: nothing to gain from the moments. Nor do small
  // planes: measured per layer (MobileNetV1@32, batch 256, 1 thread, CPU time), the moments save batch norm
  // 3-6 ms per layer on planes of 32x32 and, after a GEMM, on 16x16, for 0.4-1.3 ms in the convolution; on
  // 8x8 and smaller planes, and after a depthwise convolution on 16x16, the per-plane reductions cost more
  // than batch norm's own statistics pass, which reads whole blocks of channels at once.
  const kernels::Conv2dShape s = detail::conv2d_shape(x, w, Tensor(), args);  // conv2d's checks, first
  const int64_t min_plane = s.is_depthwise() ? kMinMomentsPlaneDepthwise : kMinMomentsPlane;
  const bool use_moments = training && x.device().is_cpu() && s.out_h() * s.out_w() >= min_plane;
  std::vector<double> moments;
  const Tensor y = detail::conv2d(x, w, Tensor(), args, use_moments ? &moments : nullptr);
  return batch_norm_relu(y, gamma, beta, std::move(running_mean), std::move(running_var), training, momentum,
                         eps, use_moments ? &moments : nullptr);
}

// Inverted dropout: zero each element with probability p and scale the rest by 1/(1−p), so evaluation
// needs no rescaling. The mask comes from the generator, so a run is reproducible.
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  SSL_CHECK(p >= 0 && p < 1, "dropout: probability ", p, " outside [0, 1)");
  if (!training || p == 0) return x;
  detail::check_inputs("dropout", {x});
  // The mask is drawn on the host (the same mask on every device), then moved to x's device.
  Tensor mask = Tensor::uniform(x.shape(), 0, 1, gen, x.dtype());
  dispatch_floating(x.dtype(), "dropout", [&]<class T>() {
    T* m = mask.data<T>();
    const T keep_scale = T(1.0 / (1.0 - p));
    for (int64_t i = 0; i < mask.numel(); ++i) m[i] = m[i] <= T(p) ? T(0) : keep_scale;
  });
  return mul(x, mask.to(x.device()));  // the gradient is g·mask, through mul
}

}  // namespace ssl
