// The models selectable by name (`--model`), and the heads SSL methods put on top of an encoder.
#pragma once

#include <string>
#include <vector>

#include "nn/layers.h"

namespace ssl::nn {

// An encoder maps images [N, 3, S, S] to features [N, feature_dim].
//
// It also names the points a frozen evaluation may read instead (layer_names, shallowest first; the last is
// forward's output): the last block of a pretext-trained encoder specialises to its pretext task, and an
// earlier one can hold the better features (ssl/features.h reads them, `ssl eval --layer` chooses).
class Encoder : public Sequential {
 public:
  int64_t feature_dim = 0;
  int64_t image_size = 0;  // the input side it was built for (make_encoder sets it); 0 = unknown

  virtual std::vector<std::string> layer_names() const;
  // The activations at layer_names()[layer]: [N, C, H, W] at an intermediate point, forward(x) at the last.
  virtual Tensor forward_to(const Tensor& x, size_t layer);
  // Index of `name` in layer_names(); throws listing them when there is none.
  size_t layer_index(const std::string& name) const;

  // For an encoder built as a sequence of modules: each named point and how many leading modules it runs.
  // Empty: the only point is forward's output, named "output".
  std::vector<std::pair<std::string, size_t>> cut_points;
};
using EncoderPtr = std::shared_ptr<Encoder>;

// The studies' two-conv encoder: conv3×3 3→32, ReLU, max-pool 2, conv3×3 32→64, ReLU, max-pool 2, flatten.
// Padding 1 keeps the sizes, so a 32×32 input gives 64 × 8 × 8 = 4,096 features. Layers: pool1 (after the
// first max-pool, 32 × 16 × 16 at 32×32) and pool2 (the output).
EncoderPtr convnet2(int64_t image_size = 32, int64_t in_channels = 3);

// Builds an encoder by name for square images of `image_size`; throws listing the known names.
// "mobilenet_v1:ALPHA" is MobileNetV1 with width multiplier ALPHA (e.g. mobilenet_v1:0.5).
EncoderPtr make_encoder(const std::string& name, int64_t image_size = 32);
std::vector<std::string> encoder_names();
// What the encoder `name` builds differently at `image_size`, beyond the sizes of its activations:
// MobileNet's stem stride ("stem stride 1" below 64 px, 2 from 64), ResNet-18's stem ("CIFAR stem" up to 64
// px, "ImageNet stem" above); empty for ConvNet2, which is the same network at every size. Weights trained at
// one size run in another network at a size whose design differs, even where their shapes agree.
std::string size_dependent_design(const std::string& name, int64_t image_size);

// SimCLR's projection head: Linear(in → hidden, no bias), BatchNorm, ReLU, Linear(hidden → out). The batch
// norm is in SimCLR's own head; without it the head trains slower here (3 points less linear-probe Top-1 on
// synthetic after 10 epochs).
std::shared_ptr<Sequential> projection_head(int64_t in, int64_t hidden = 512, int64_t out = 128);

}  // namespace ssl::nn
