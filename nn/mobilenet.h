// MobileNetV1 (Howard et al., 2017): a 3×3 stem convolution, then 13 depthwise-separable blocks, global
// average pooling and (for the classifier) one linear layer. The width multiplier α scales every layer's
// channels: int(c·α), at least 1.
//
// Stem stride: 2 as in the paper when image_size >= 64 (224 → 7×7 before pooling, 96 → 3×3, 128 → 4×4);
// 1 when image_size < 64, so a 32×32 image still ends at 2×2 instead of 1×1 after the four stride-2 blocks.
//
// state_dict names (torchvision's MobileNetV2 layout; blocks are numbered Sequentials, as in the widely used
// PyTorch MobileNetV1 ports):
//   features.0.0.weight                  stem conv [32α, 3, 3, 3], no bias
//   features.0.1.{weight,bias,running_mean,running_var,num_batches_tracked}   stem BN
//   features.K.0.weight                  block K (1..13): depthwise conv [c, 1, 3, 3], groups = c, no bias
//   features.K.1.*                       BN after it
//   features.K.3.weight                  pointwise conv [c_out, c, 1, 1], no bias
//   features.K.4.*                       BN after it
//   fc.weight, fc.bias                   the classifier only
// Initialisation: convolutions kaiming_normal (fan_out, ReLU gain), BN weight 1 and bias 0, as torchvision
// initialises its MobileNets; the linear layer keeps PyTorch's default (torchvision's draws from N(0, 0.01)).
#pragma once

#include "nn/layers_extra.h"
#include "nn/models.h"

namespace ssl::nn {

// The stem's stride for square images of `image_size` (above).
int64_t mobilenet_stem_stride(int64_t image_size);

// conv → BN → ReLU as a Sequential with children 0..2 (the stem); forward runs BN and ReLU as one fused op.
class ConvBNReLU : public Sequential {
 public:
  ConvBNReLU(std::shared_ptr<Conv2d> conv, int64_t channels);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<Conv2d> conv_;
  std::shared_ptr<BatchNorm> bn_;
};

// depthwise 3×3 (groups = in, stride, padding 1, no bias) → BN → ReLU → pointwise 1×1 (no bias) → BN → ReLU,
// as a Sequential with children 0..5 (0 and 3 are the convolutions, 1 and 4 the BNs, 2 and 5 the ReLUs).
// forward fuses each convolution with its BN and ReLU (conv2d_batch_norm_relu): one pass over the activation
// each way instead of two, and the BN outputs are never stored. The depthwise convolution is a direct kernel
// (kernels/cpu/depthwise.cpp), the pointwise one a GEMM over chunks of images (kernels/cpu/conv.cpp).
class DepthwiseSeparableConv : public Sequential {
 public:
  DepthwiseSeparableConv(int64_t in_channels, int64_t out_channels, int64_t stride = 1);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<Conv2d> depthwise_, pointwise_;
  std::shared_ptr<BatchNorm> bn_depthwise_, bn_pointwise_;
};

class MobileNetV1 : public Encoder {
 public:
  // classes == 0: an encoder, forward gives the pooled features [N, 1024α]; classes > 0: a classifier,
  // forward gives logits [N, classes]. feature_dim is the width of forward's output in both cases.
  explicit MobileNetV1(int64_t image_size = 224, double width = 1.0, int64_t classes = 0);
  Tensor forward(const Tensor& x) override;
  // block1 … block13, the outputs of the depthwise-separable blocks; the last is forward's (an encoder's
  // pooled features, a classifier's logits).
  std::vector<std::string> layer_names() const override;
  Tensor forward_to(const Tensor& x, size_t layer) override;

  std::shared_ptr<Sequential> features;  // stem + 13 blocks, [N, 3, S, S] → [N, 1024α, S/32 (S/16), ...]
  std::shared_ptr<Linear> fc;            // null for the encoder
  int64_t channels = 0;                  // 1024α: the pooled feature width
};

// The encoder registered as "mobilenet_v1" (α = 1 there).
EncoderPtr mobilenet_v1(int64_t image_size = 224, double width = 1.0);
// With a linear classifier: α = 1, 1000 classes has 4,231,976 parameters.
std::shared_ptr<MobileNetV1> mobilenet_v1_classifier(int64_t classes = 1000, int64_t image_size = 224,
                                                     double width = 1.0);

}  // namespace ssl::nn
