// ResNet-18 (He et al., 2016) with torchvision's module names, so its state_dict matches
// torchvision.models.resnet18 key for key:
//   conv1.weight, bn1.{weight,bias,running_mean,running_var,num_batches_tracked},
//   layerL.B.conv1.weight, layerL.B.bn1.*, layerL.B.conv2.weight, layerL.B.bn2.*   (L = 1..4, B = 0..1)
//   layerL.0.downsample.0.weight, layerL.0.downsample.1.*                          (L = 2..4)
//   fc.weight, fc.bias                                                              (classifier only)
// Two stems:
//   imagenet  conv1 7×7 stride 2 padding 3 → bn1 → ReLU → max-pool 3×3 stride 2 padding 1 (torchvision's)
//   cifar     conv1 3×3 stride 1 padding 1 → bn1 → ReLU, no max-pool (the usual CIFAR variant: a 32×32
//             image reaches layer4 at 4×4 instead of 1×1)
// The conv1 weight's shape differs between the stems ([64, 3, 7, 7] vs [64, 3, 3, 3]); every other name and
// shape is the same. Initialisation as torchvision: convolutions kaiming_normal (fan_out, ReLU gain), BN
// weight 1 and bias 0, fc PyTorch's Linear default.
#pragma once

#include "nn/layers_extra.h"
#include "nn/models.h"

namespace ssl::nn {

// torchvision's BasicBlock: conv3×3(stride) → bn1 → ReLU → conv3×3 → bn2, plus the shortcut (identity, or
// downsample = Sequential(conv1×1(stride), BN) when the stride or the width changes), then ReLU.
class BasicBlock : public Module {
 public:
  BasicBlock(int64_t in_channels, int64_t out_channels, int64_t stride = 1);
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<Conv2d> conv1, conv2;
  std::shared_ptr<BatchNorm> bn1, bn2;
  std::shared_ptr<Sequential> downsample;  // null for the identity shortcut
};

enum class ResNetStem { cifar, imagenet };

class ResNet18 : public Encoder {
 public:
  // classes == 0: an encoder, forward gives the globally pooled features [N, 512]; classes > 0: forward
  // gives logits [N, classes]. feature_dim is the width of forward's output in both cases.
  explicit ResNet18(ResNetStem stem = ResNetStem::imagenet, int64_t classes = 0);
  Tensor forward(const Tensor& x) override;
  // layer1 … layer4, the outputs of the four stages; the last is forward's (an encoder's: layer4's, pooled
  // globally; a classifier's: its logits).
  std::vector<std::string> layer_names() const override;
  Tensor forward_to(const Tensor& x, size_t layer) override;

  ResNetStem stem;
  std::shared_ptr<Conv2d> conv1;
  std::shared_ptr<BatchNorm> bn1;
  std::shared_ptr<Sequential> layer1, layer2, layer3, layer4;
  std::shared_ptr<Linear> fc;  // null for the encoder

 private:
  Tensor stage_output(const Tensor& x, size_t stage);  // the activation map of layer1 … layer4 (0 … 3)
};

// The encoder registered as "resnet18": the CIFAR stem when image_size <= 64, the ImageNet stem above.
EncoderPtr resnet18(int64_t image_size = 32);
ResNetStem resnet18_stem(int64_t image_size);
// With a linear classifier: the ImageNet stem and 1000 classes has 11,689,512 parameters (torchvision's).
std::shared_ptr<ResNet18> resnet18_classifier(int64_t classes = 1000, ResNetStem stem = ResNetStem::imagenet);

}  // namespace ssl::nn
