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
  // The values ../shared/ALGORITHMS.md gives: temperature 0.2–0.5 on small images (0.2 learnt faster on
  // synthetic), the random resized crop's smallest area 0.08 (or 0.2), colour jitter strength 0.5.
  double temperature = 0.2;
  bool cross_view_only = false;  // NT-Xent over the N×N cross-view block only (see ALGORITHMS.md)
  double crop_min_scale = 0.08;  // the random resized crop's smallest area
  double colour_strength = 0.5;  // colour jitter strength s (data::simclr_augment)
  // > 0: a linear probe with this many classes is trained jointly on the labelled batch of each step
  // (StepContext::labelled), on the encoder's eval-mode features without a graph, so it never shapes the
  // encoder (set by the runner from --joint-probe).
  int64_t probe_classes = 0;
};

class SimCLR : public PretextMethod {
 public:
  SimCLR(nn::EncoderPtr encoder, const SimCLROptions& options);
  // views: [2N, C, H, W], rows k and N+k the two views of image k. Returns the NT-Xent loss.
  Tensor forward(const Tensor& views) override;
  // NT-Xent, plus the joint probe's cross-entropy on context.labelled when there is a probe.
  Tensor loss(const data::Batch& batch, const StepContext& context) override;
  std::shared_ptr<nn::Sequential> head;
  std::shared_ptr<nn::Linear> probe;  // null without a joint probe; dropped from the saved encoder
  SimCLROptions options;
};

}  // namespace ssl
