// Rotation prediction (RotNet, Gidaris et al., 2018): every image of the batch is shown in all four
// rotations (0, 90, 180, 270 degrees counter-clockwise) in the same batch, after one shared crop and flip,
// and a linear head on the encoder's features classifies which rotation it sees (4-way cross-entropy).
// Rotations are exact (index permutations), never interpolated. The loader's augmentation, shared by the
// four rotations, is data::crop_flip_augment.
#pragma once

#include "ssl/method.h"

namespace ssl {

// images [N, C, H, W] rotated by k quarter turns counter-clockwise (numpy's rot90 on the last two axes; k
// taken mod 4). Odd k needs square images. Not differentiable (inputs only).
Tensor rotate90(const Tensor& images, int k);

class RotationPrediction : public PretextMethod {
 public:
  explicit RotationPrediction(nn::EncoderPtr encoder);
  // images [N, C, S, S] -> the four rotations stacked as [4N, ...] (rotation r in rows r*N .. r*N + N-1),
  // labels r, and the mean cross-entropy of the head's predictions.
  Tensor forward(const Tensor& images) override;
  Tensor loss(const data::Batch& batch, const StepContext&) override { return forward(batch.images); }

  // The stacked rotations and their labels, as forward uses them.
  static std::pair<Tensor, Tensor> rotated_batch(const Tensor& images);

  std::shared_ptr<nn::Linear> head;  // feature_dim -> 4
};

}  // namespace ssl
