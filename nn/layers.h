// The basic layers. Each holds its parameters under PyTorch's names ("weight", "bias", "running_mean")
// and initialises them as PyTorch does by default, so results are comparable.
#pragma once

#include <initializer_list>

#include "nn/module.h"

namespace ssl::nn {

// y = x Wᵀ + b; W [out, in] ~ U(±1/√in), b likewise.
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  Tensor forward(const Tensor& x) override;
  Tensor weight, bias;
};

class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, Conv2dArgs args = {}, bool bias = true);
  Tensor forward(const Tensor& x) override;
  Tensor weight, bias;
  Conv2dArgs args;
};

// A convolution without bias initialised as torchvision's ResNet and MobileNet are: kaiming_normal_(mode=
// "fan_out", nonlinearity="relu"), N(0, std² = 2 / fan_out), where PyTorch's fan_out of a weight
// [out, in/groups, k, k] is out·k·k (groups are not divided out).
std::shared_ptr<Conv2d> conv_kaiming_fan_out(int64_t in, int64_t out, int64_t kernel, Conv2dArgs args);

// Batch normalisation over [N, C] or [N, C, H, W] (one class serves BatchNorm1d and BatchNorm2d).
class BatchNorm : public Module {
 public:
  explicit BatchNorm(int64_t channels, double momentum = 0.1, double eps = 1e-5);
  Tensor forward(const Tensor& x) override;
  // relu(forward(x)) through the fused op (core/ops.h batch_norm_relu): for the BN → ReLU pairs of models.
  Tensor forward_relu(const Tensor& x);
  // relu(forward(conv.forward(x))) through conv2d_batch_norm_relu (core/ops.h), which, when training on the
  // CPU on large enough planes, takes the batch statistics from the convolution kernel instead of a pass over
  // its output. conv must have no bias.
  Tensor forward_conv_relu(const Conv2d& conv, const Tensor& x);
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  double momentum, eps;

 private:
  // Counts a training batch once the op has accepted it (a refused one updates no statistic).
  Tensor counted(Tensor y);
};

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override { return relu(x); }
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(int64_t kernel, int64_t stride = 0, int64_t padding = 0)
      : kernel_(kernel), stride_(stride), padding_(padding) {}
  Tensor forward(const Tensor& x) override { return max_pool2d(x, kernel_, stride_, padding_); }

 private:
  int64_t kernel_, stride_, padding_;
};

// [N, ...] → [N, features]
class Flatten : public Module {
 public:
  Tensor forward(const Tensor& x) override { return x.flatten(1); }
};

// Runs its children in order; they are named "0", "1", ... as in PyTorch's nn.Sequential.
class Sequential : public Module {
 public:
  Sequential() = default;
  Sequential(std::initializer_list<ModulePtr> modules);
  void append(ModulePtr m);
  Tensor forward(const Tensor& x) override;
  // Runs the first `count` modules only (an encoder's intermediate activations).
  Tensor forward_prefix(const Tensor& x, size_t count);
  size_t size() const { return layers_.size(); }

 private:
  std::vector<ModulePtr> layers_;
};

}  // namespace ssl::nn
