// Relative patch position (Doersch et al., 2015; ../shared/ALGORITHMS.md): from each image of the batch a
// 3x3 grid of square patches is cut, with gaps between them and a random jitter of every patch
// (kernels/common/patch_grid.h). The centre patch (the anchor) and one of its eight neighbours (the query)
// go through one SHARED encoder; their features, concatenated [N, 2F], feed a linear classifier that
// predicts the neighbour's position (labels 0..7 as patch_grid.h numbers them) with cross-entropy.
//
// Against trivial shortcuts (chromatic aberration, matching low-level statistics across the gap) the patches
// lose their colour, either "gray" (luma, replicated to the three channels) or "drop" (one random channel
// kept, the other two replaced by Gaussian noise with 1/100 of its standard deviation, as in the paper), and
// each patch channel is normalised to zero mean and unit variance (the dropped channels stay small noise).
//
// The encoder is built for images of the patch side, so the saved encoder.safetensors has image_size =
// patch side; evaluation resizes whole images to it (ssl/features.cpp).
//
// Randomness: sample `index` of a step draws everything (the grid's patch::kDrawsPerGrid words, then the
// label with below(8), then per patch, anchor first, the kept channel and its noise when dropping colour)
// from relative_patch_stream(context, index), so a step is a pure function of (seed, epoch, indices) and
// resumes exactly. The grid and the label follow data::PatchGrid::pair's draw order, so a PatchGrid given
// the method's grid (patch_grid_params below: its derived patch side is rounded down to a multiple of 4,
// which PatchGrid's own derivation does not do) gives the same offsets and label from the same stream.
#pragma once

#include <string>

#include "kernels/common/patch_grid.h"
#include "ssl/method.h"

namespace ssl {

struct PatchOptions {
  // patch = 0: all three derived from the image side: patch::scaled_params, then the patch side rounded
  // down to a multiple of 4 (ConvNet2's two 2x2 poolings need one; at least 4) and the gap recomputed as
  // (side - 2 jitter - 3 patch) / 2, so the grid still spans the image as the scaled one does: the pixels
  // freed by the rounding widen the gaps, which only makes edge-continuation shortcuts harder. E.g. 32 px:
  // patch 4, gap 9, jitter 1; 96 px: patch 20, gap 16, jitter 2. patch > 0: the three as given (gap and
  // jitter are then only allowed with a patch side).
  int64_t patch = 0;
  int64_t gap = 0;
  int64_t jitter = 0;
  std::string colour = "gray";  // gray or drop
};

// The grid for square images of `image_size`; throws ssl::Error when the options are invalid or the grid
// does not fit.
patch::GridParams patch_grid_params(const PatchOptions& options, int64_t image_size);

// The random stream of sample `index` at this step.
rng::Stream relative_patch_stream(const StepContext& context, int64_t index);

// One batch of the pretext task.
struct PatchPairs {
  Tensor patches;  // [N, 2, 3, P, P]: anchor (k = 0) and query (k = 1), colour handled and normalised
  Tensor labels;   // int64 [N], 0..7: the query's position around the anchor
  Tensor offsets;  // int64 [N, 2, 2]: top-left (y, x) of the anchor and of the query in the image
};

class RelativePatch : public PretextMethod {
 public:
  // `encoder` takes images of side grid.patch (throws otherwise); colour is "gray" or "drop".
  RelativePatch(nn::EncoderPtr encoder, patch::GridParams grid, std::string colour = "gray");

  // Images [N, C, H, W] (C = 3, or 1 for gray) with their dataset indices -> the pairs, labels and
  // offsets. Inputs only (no autograd history).
  PatchPairs make_pairs(const Tensor& images, const std::vector<int64_t>& indices,
                        const StepContext& context) const;
  // patches [N, 2, 3, P, P] -> logits [N, 8]: one encoder pass over all 2N patches, features [N, 2F]
  // (anchor's, then query's), the classifier.
  Tensor forward(const Tensor& patches) override;
  Tensor loss(const data::Batch& batch, const StepContext& context) override;

  const patch::GridParams& grid() const { return grid_; }
  const std::string& colour() const { return colour_; }

  // Variance floor of the per-patch normalisation: flat patches (a plain background with pixel noise) are
  // not blown up to unit-variance noise.
  static constexpr double kNormEps = 1e-2;
  // Standard deviation of the noise in dropped channels, relative to the kept (normalised) channel's.
  static constexpr double kDropNoise = 1e-2;

  std::shared_ptr<nn::Linear> classifier;  // 2 * feature_dim -> 8

 private:
  patch::GridParams grid_;
  std::string colour_;
};

}  // namespace ssl
