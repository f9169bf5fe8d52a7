#include "nn/optim.h"

#include "core/autograd.h"
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
      kernels::cpu::adam_step<T>(p.numel(), p.data<T>(), g.data<T>(), m_[i].data<T>(), v_[i].data<T>(), T(lr),
                                 T(beta1), T(beta2), T(eps), T(weight_decay), steps_);
    });
  }
}

}  // namespace ssl::nn
