#include "nn/layers.h"

#include <cmath>

namespace ssl::nn {

namespace {
// PyTorch's default for Linear and Conv2d (kaiming_uniform with a = √5 reduces to this bound).
Tensor uniform_fan_in(const Shape& shape, int64_t fan_in) {
  const double bound = 1.0 / std::sqrt(double(fan_in));
  return Tensor::uniform(shape, -bound, bound);
}
}  // namespace

Linear::Linear(int64_t in, int64_t out, bool with_bias) {
  SSL_CHECK(in >= 1 && out >= 1, "Linear: sizes must be positive, got ", in, " → ", out);
  weight = register_parameter("weight", uniform_fan_in({out, in}, in));
  if (with_bias) bias = register_parameter("bias", uniform_fan_in({out}, in));
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

Conv2d::Conv2d(int64_t in, int64_t out, int64_t kernel, Conv2dArgs a, bool with_bias) : args(a) {
  SSL_CHECK(in >= 1 && out >= 1 && kernel >= 1 && a.groups >= 1 && in % a.groups == 0 && out % a.groups == 0,
            "Conv2d: channels ", in, " → ", out, ", kernel ", kernel, ", groups ", a.groups,
            " (expected positive sizes, and channels on both sides divisible by groups)");
  const int64_t fan_in = in / a.groups * kernel * kernel;
  weight = register_parameter("weight", uniform_fan_in({out, in / a.groups, kernel, kernel}, fan_in));
  if (with_bias) bias = register_parameter("bias", uniform_fan_in({out}, fan_in));
}

Tensor Conv2d::forward(const Tensor& x) { return conv2d(x, weight, bias, args); }

std::shared_ptr<Conv2d> conv_kaiming_fan_out(int64_t in, int64_t out, int64_t kernel, Conv2dArgs args) {
  auto c = std::make_shared<Conv2d>(in, out, kernel, args, /*bias=*/false);
  NoGradGuard no_grad;
  c->weight.copy_(Tensor::normal(c->weight.shape(), 0, std::sqrt(2.0 / double(out * kernel * kernel))));
  return c;
}

BatchNorm::BatchNorm(int64_t channels, double momentum_, double eps_) : momentum(momentum_), eps(eps_) {
  SSL_CHECK(channels >= 1 && momentum >= 0 && momentum <= 1 && eps > 0 && std::isfinite(eps),
            "BatchNorm: expected channels >= 1, momentum in [0, 1] and eps > 0; got ", channels, ", ",
            momentum, ", ", eps);
  weight = register_parameter("weight", Tensor::ones({channels}));
  bias = register_parameter("bias", Tensor::zeros({channels}));
  running_mean = register_buffer("running_mean", Tensor::zeros({channels}));
  running_var = register_buffer("running_var", Tensor::ones({channels}));
  num_batches_tracked = register_buffer("num_batches_tracked", Tensor::zeros({}, DType::i64));
}

Tensor BatchNorm::counted(Tensor y) {
  if (is_training()) {
    NoGradGuard g;
    num_batches_tracked.fill_(num_batches_tracked.item() + 1);
  }
  return y;
}

Tensor BatchNorm::forward(const Tensor& x) {
  return counted(batch_norm(x, weight, bias, running_mean, running_var, is_training(), momentum, eps));
}

Tensor BatchNorm::forward_relu(const Tensor& x) {
  return counted(batch_norm_relu(x, weight, bias, running_mean, running_var, is_training(), momentum, eps));
}

Tensor BatchNorm::forward_conv_relu(const Conv2d& conv, const Tensor& x) {
  SSL_CHECK(!conv.bias.defined(), "BatchNorm::forward_conv_relu: the convolution must have no bias");
  return counted(conv2d_batch_norm_relu(x, conv.weight, conv.args, weight, bias, running_mean, running_var,
                                        is_training(), momentum, eps));
}

Sequential::Sequential(std::initializer_list<ModulePtr> modules) {
  for (const ModulePtr& m : modules) append(m);
}

void Sequential::append(ModulePtr m) {
  register_module(std::to_string(layers_.size()), m);
  layers_.push_back(std::move(m));
}

Tensor Sequential::forward(const Tensor& x) { return forward_prefix(x, layers_.size()); }

Tensor Sequential::forward_prefix(const Tensor& x, size_t count) {
  SSL_CHECK(count <= layers_.size(), "Sequential: asked to run the first ", count, " modules of ",
            layers_.size());
  Tensor h = x;
  for (size_t i = 0; i < count; ++i) h = layers_[i]->forward(h);
  return h;
}

}  // namespace ssl::nn
