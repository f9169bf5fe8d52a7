// More layers, for the larger encoders and the GAN models (nn/mobilenet.h, nn/resnet.h, nn/sgan.h). Same
// conventions as nn/layers.h: PyTorch's parameter names and default initialisation, so that a state_dict
// written here loads into the equivalent torch.nn module.
#pragma once

#include "core/ops_nn.h"
#include "nn/layers.h"

namespace ssl::nn {

// torch.nn.ConvTranspose2d: weight [in, out/groups, k, k], bias [out]. PyTorch's default init draws both
// from U(±1/√fan_in) with fan_in = (out/groups)·k·k (its fan rule reads the weight's dim 1).
class ConvTranspose2d : public Module {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, int64_t kernel, ConvTranspose2dArgs args = {},
                  bool bias = true);
  Tensor forward(const Tensor& x) override;
  Tensor weight, bias;
  ConvTranspose2dArgs args;
};

// Zeroes each element with probability p in training mode and scales the rest by 1/(1−p); the identity in
// evaluation mode.
class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5);
  Tensor forward(const Tensor& x) override { return dropout(x, p, is_training()); }
  double p;
};

class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : negative_slope(negative_slope) {}
  Tensor forward(const Tensor& x) override { return leaky_relu(x, negative_slope); }
  double negative_slope;
};

class Tanh : public Module {
 public:
  Tensor forward(const Tensor& x) override { return tanh(x); }
};

class Sigmoid : public Module {
 public:
  Tensor forward(const Tensor& x) override { return sigmoid(x); }
};

// Average pooling with count_include_pad = true (PyTorch's default); stride 0 = kernel.
class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(int64_t kernel, int64_t stride = 0, int64_t padding = 0)
      : kernel(kernel), stride(stride), padding(padding) {}
  Tensor forward(const Tensor& x) override { return avg_pool2d(x, kernel, stride, padding); }
  int64_t kernel, stride, padding;
};

// Pools [N, C, H, W] to [N, C, out_h, out_w] whatever H and W are; AdaptiveAvgPool2d(1) is global pooling.
class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(int64_t out_size) : out_h(out_size), out_w(out_size) {}
  AdaptiveAvgPool2d(int64_t out_h, int64_t out_w) : out_h(out_h), out_w(out_w) {}
  Tensor forward(const Tensor& x) override { return adaptive_avg_pool2d(x, out_h, out_w); }
  int64_t out_h, out_w;
};

// torch.nn.Upsample(scale_factor=2, mode="nearest") followed by torch.nn.Conv2d(in, out, 3, padding=1): the
// resize-convolution of GAN generators. Its weight and bias are that Conv2d's (names, shapes,
// initialisation), so they load into it. Computed by upsample_conv2d (core/ops_nn.h) as one transposed
// convolution: 4/9 of the multiply-adds, and the upsampled image is never made.
class UpsampleConv2d : public Conv2d {
 public:
  UpsampleConv2d(int64_t in_channels, int64_t out_channels, bool bias = true);
  Tensor forward(const Tensor& x) override;
};

// torch.nn.Upsample(scale_factor=scale, mode="nearest") for an integer scale.
class Upsample : public Module {
 public:
  explicit Upsample(int64_t scale);
  Tensor forward(const Tensor& x) override { return upsample_nearest2d(x, scale); }
  int64_t scale;
};

class Identity : public Module {
 public:
  Tensor forward(const Tensor& x) override { return x; }
};

}  // namespace ssl::nn
