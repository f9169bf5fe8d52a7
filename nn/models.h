// The models selectable by name (`--model`), and the heads SSL methods put on top of an encoder.
#pragma once

#include <string>
#include <vector>

#include "nn/layers.h"

namespace ssl::nn {

// An encoder maps images [N, 3, S, S] to features [N, feature_dim].
class Encoder : public Sequential {
 public:
  int64_t feature_dim = 0;
  int64_t image_size = 0;  // the input side it was built for (make_encoder sets it); 0 = unknown
};
using EncoderPtr = std::shared_ptr<Encoder>;

// The studies' two-conv encoder: conv3×3 3→32, ReLU, max-pool 2, conv3×3 32→64, ReLU, max-pool 2, flatten.
// Padding 1 keeps the sizes, so a 32×32 input gives 64 × 8 × 8 = 4,096 features.
EncoderPtr convnet2(int64_t image_size = 32, int64_t in_channels = 3);

// Builds an encoder by name for square images of `image_size`; throws listing the known names.
// "mobilenet_v1:ALPHA" is MobileNetV1 with width multiplier ALPHA (e.g. mobilenet_v1:0.5).
EncoderPtr make_encoder(const std::string& name, int64_t image_size = 32);
std::vector<std::string> encoder_names();

// SimCLR's projection head: Linear(in → hidden), ReLU, Linear(hidden → out).
std::shared_ptr<Sequential> projection_head(int64_t in, int64_t hidden = 512, int64_t out = 128);

}  // namespace ssl::nn
