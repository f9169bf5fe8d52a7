#include "nn/optim.h"

#include <cmath>

#include "core/ops.h"
#include "kernels/optim.h"

namespace ssl::nn {

namespace {
// A parameter's gradient as a contiguous tensor of its own dtype, checked against its shape.
Tensor gradient_of(const Tensor& p) {
  const Tensor g = p.grad().contiguous();
  SSL_CHECK(g.shape() == p.shape() && g.dtype() == p.dtype(), "optimizer: gradient of shape ", g.shape(),
            " for a parameter of shape ", p.shape());
  return g;
}
}  // namespace

Optimizer::Optimizer(std::vector<Tensor> params) : params_(std::move(params)) {
  for (const Tensor& p : params_) {
    SSL_CHECK(p.is_contiguous() && p.device().is_cpu(),
              "optimizer: parameters must be contiguous CPU tensors");
  }
}

void Optimizer::zero_grad() {
  for (Tensor& p : params_) p.zero_grad();
}

SGD::SGD(std::vector<Tensor> params, double lr_, double momentum_, double wd, bool nesterov_)
    : Optimizer(std::move(params)), momentum(momentum_), weight_decay(wd), nesterov(nesterov_) {
  lr = lr_;
  SSL_CHECK(lr >= 0 && momentum >= 0 && weight_decay >= 0, "SGD: lr, momentum and weight decay must be >= 0");
  SSL_CHECK(!nesterov || momentum > 0, "SGD: Nesterov momentum needs momentum > 0");
  for (const Tensor& p : params_) momentum_buffers_.push_back(Tensor::zeros(p.shape(), p.dtype()));
  buffer_started_.assign(params_.size(), false);
}

void SGD::step() {
  NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    if (!p.grad().defined()) continue;
    const Tensor g = gradient_of(p);
    dispatch_floating(p.dtype(), "SGD", [&]<class T>() {
      kernels::cpu::sgd_step<T>(p.numel(), p.data<T>(), g.data<T>(), momentum_buffers_[i].data<T>(), T(lr),
                                T(momentum), T(weight_decay), nesterov, !buffer_started_[i]);
    });
    buffer_started_[i] = true;
  }
  ++steps_;
}

Adam::Adam(std::vector<Tensor> params, double lr_, double b1, double b2, double eps_, double wd)
    : Optimizer(std::move(params)), beta1(b1), beta2(b2), eps(eps_), weight_decay(wd) {
  lr = lr_;
  SSL_CHECK(lr >= 0 && b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1 && eps > 0, "Adam: invalid hyper-parameters");
  for (const Tensor& p : params_) {
    m_.push_back(Tensor::zeros(p.shape(), p.dtype()));
    v_.push_back(Tensor::zeros(p.shape(), p.dtype()));
  }
}

void Adam::step() {
  NoGradGuard no_grad;
  ++steps_;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    if (!p.grad().defined()) continue;
    const Tensor g = gradient_of(p);
    dispatch_floating(p.dtype(), "Adam", [&]<class T>() {
      const auto update = decoupled_weight_decay_ ? kernels::cpu::adamw_step<T> : kernels::cpu::adam_step<T>;
      update(p.numel(), p.data<T>(), g.data<T>(), m_[i].data<T>(), v_[i].data<T>(), T(lr), T(beta1), T(beta2),
             T(eps), T(weight_decay), steps_);
    });
  }
}

AdamW::AdamW(std::vector<Tensor> params, double lr_, double b1, double b2, double eps_, double wd)
    : Adam(std::move(params), lr_, b1, b2, eps_, wd) {
  decoupled_weight_decay_ = true;
}

LARS::LARS(std::vector<Tensor> params, double lr_, double momentum_, double wd, double eta_, bool nesterov_)
    : Optimizer(std::move(params)), momentum(momentum_), weight_decay(wd), eta(eta_), nesterov(nesterov_) {
  lr = lr_;
  SSL_CHECK(lr >= 0 && momentum >= 0 && weight_decay >= 0 && eta > 0, "LARS: invalid hyper-parameters");
  for (const Tensor& p : params_) momentum_buffers_.push_back(Tensor::zeros(p.shape(), p.dtype()));
}

void LARS::step() {
  NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    if (!p.grad().defined()) continue;
    const Tensor g = gradient_of(p);
    const bool adapt = p.dim() > 1;  // biases and BatchNorm parameters are 1-D
    dispatch_floating(p.dtype(), "LARS", [&]<class T>() {
      kernels::cpu::lars_step<T>(p.numel(), p.data<T>(), g.data<T>(), momentum_buffers_[i].data<T>(), T(lr),
                                 T(momentum), T(weight_decay), T(eta), adapt, nesterov);
    });
  }
  ++steps_;
}

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  SSL_CHECK(max_norm > 0, "clip_grad_norm: max_norm must be > 0, got ", max_norm);
  NoGradGuard no_grad;
  double total = 0;
  for (const Tensor& p : params) {
    if (!p.grad().defined()) continue;
    const Tensor g = gradient_of(p);
    total += dispatch_floating(g.dtype(), "clip_grad_norm", [&]<class T>() {
      return kernels::cpu::sum_of_squares<T>(g.numel(), g.data<T>());
    });
  }
  const double norm = std::sqrt(total);
  if (norm > max_norm) {
    // A fresh tensor per parameter: two leaves may hold the same gradient tensor after backward.
    for (const Tensor& p : params)
      if (p.grad().defined()) Tensor(p).set_grad(mul(p.grad(), max_norm / (norm + 1e-6)));
  }
  return norm;
}

}  // namespace ssl::nn
