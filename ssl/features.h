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

// With `inputs`, also returns the normalised images the encoder saw, [N, 3, S, S].
Features compute_features(nn::Encoder& encoder, const data::Dataset& dataset, int64_t batch_size = 512,
                          int workers = 1, bool show_progress = true, Tensor* inputs = nullptr);

}  // namespace ssl
