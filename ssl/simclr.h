// SimCLR (Chen et al., 2020): two augmented views of each image go through the encoder and a small MLP
// projection head; NT-Xent pulls the two views of an image together and pushes the other 2N−2 apart.
// Only the encoder is kept: features are taken before the head.
#pragma once

#include "nn/models.h"
#include "ssl/method.h"

namespace ssl {

struct SimCLROptions {
  int64_t head_hidden = 512;
  int64_t head_out = 128;
  double temperature = 0.2;      // ALGORITHMS.md: 0.2–0.5 on small images; 0.2 learnt faster on synthetic
  bool cross_view_only = false;  // NT-Xent over the N×N cross-view block only (see ALGORITHMS.md)
};

class SimCLR : public PretextMethod {
 public:
  SimCLR(nn::EncoderPtr encoder, const SimCLROptions& options);
  // views: [2N, C, H, W], rows k and N+k the two views of image k. Returns the NT-Xent loss.
  Tensor forward(const Tensor& views) override;
  Tensor loss(const data::Batch& batch, const StepContext&) override { return forward(batch.images); }
  std::shared_ptr<nn::Sequential> head;
  SimCLROptions options;
};

}  // namespace ssl
