// Frozen features: the encoder in evaluation mode (BatchNorm on running statistics, no dropout), no
// autograd, every image of a dataset once, unaugmented (only resized when its size is not the encoder's).
// The encoder runs on the device its parameters are on; features, labels and inputs are returned on the CPU.
#pragma once

#include "data/dataset.h"
#include "data/loader.h"
#include "nn/models.h"

namespace ssl {

struct Features {
  Tensor x;       // float32 [N, feature_dim]
  Tensor labels;  // int64 [N]
};

// The loader's normalisation of pixels for every encoder of the project, (x/255 − 0.5) / 0.25.
data::LoaderOptions image_loader_options(int64_t batch_size, uint64_t seed, int workers);

// Intermediate activations are average-pooled to at most this many values per image before they are
// flattened into features: about the width of the largest map of the small encoders, and the usual bound
// when linear probes compare layers.
constexpr int64_t kMaxLayerFeatures = 9216;

// The features of one batch at encoder.layer_names()[layer]: forward's output at the last layer; an
// activation map [N, C, H, W] elsewhere, average-pooled to the largest square grid s × s (s ≤ H, W) with
// C·s² ≤ kMaxLayerFeatures, or left whole when it fits, then flattened.
Tensor layer_features(nn::Encoder& encoder, const Tensor& images, size_t layer);

// With `inputs`, also returns the normalised images the encoder saw, [N, 3, S, S]. `layer` indexes
// encoder.layer_names(); -1 is the last (forward's output). Features that are not finite (an encoder whose
// activations overflow) are refused, naming the image and the layer.
Features compute_features(nn::Encoder& encoder, const data::Dataset& dataset, int64_t batch_size = 512,
                          int workers = 1, bool show_progress = true, Tensor* inputs = nullptr,
                          int64_t layer = -1);

}  // namespace ssl
