// Context encoder (Pathak et al., 2016): hide a region of every image, encode what is left, and decode the
// features back into the whole image; the loss is the L2 distance to the original over the hidden region.
//
// Geometry (data::mask_region): the loss region is a centred square hole (centre mode) or a union of random
// square blocks (random_blocks); the encoder's mask is that region shrunk by `overlap` pixels on every side
// of each square, so the encoder sees a thin rim of the region, the overlap band, which the loss weights
// x overlap_weight (10 in the original). Each sample's geometry comes from its own stream
// rng::Stream(seed, mix64(mix64(epoch, index), kContextMaskTag)), so it is a pure function of
// (seed, epoch, dataset index): reproducible, resumable and independent of the batch it lands in.
//
// The hidden pixels of the input are filled with the dataset's mean colour, as in the original
// (make_method measures it on the training images and passes it normalised as the loader normalises).
//
// Loss: w * (reconstruction - image)^2 averaged over the loss region's elements (every channel), with
// w = overlap_weight in the overlap band and 1 in the hidden part: the original's weighting, so that
// (1 - w_adv) * L2 + w_adv * adversarial balances the terms as there. With adversarial_weight w_adv > 0, a
// small discriminator (the image with everything outside the loss region zeroed, so it judges only the
// region) is trained in the same scalar:
//   loss = (1 - w_adv) * L2 + w_adv * BCE(D'(fake), real) + BCE(D(real), real) + BCE(D(fake.detach()), fake)
// where D' is D run on detached copies of its parameters. The encoder and decoder get the gradient of the
// first two terms only (the last two do not depend on them), and the discriminator that of the last two
// only (the second reaches D's parameters through detached copies): the two-player game with one optimizer
// and one backward pass. The reported loss then includes the discriminator's terms.
#pragma once

#include <string>
#include <vector>

#include "data/transforms_extra.h"
#include "nn/layers_extra.h"
#include "ssl/method.h"

namespace ssl {

// The objective this version trains (its hole's fill and its L2's average), recorded in a run's options so
// that a run of the earlier one is neither resumed nor kept as one of this one's.
inline constexpr const char* kContextObjective = "fill the dataset mean, L2 averaged over the hole";
inline constexpr const char* kEarlierContextObjective = "fill grey, L2 divided by the weights' sum";

struct ContextOptions {
  // Centre (the default) or random_blocks, hole/block size, overlap (its byte fill is unused: the encoder
  // fills the normalised batch with the dataset mean, see ContextEncoder). Random blocks are often
  // preferred for feature learning, but not here: in study A (seed 0, convnet2, 32 px) the linear probe at
  // pool2 reads 57.3 % Top-1 after the centre hole and 39.2 % after blocks at their defaults (quarter-side
  // blocks to 25 % coverage), below the random encoder's 51.0 %.
  data::MaskOptions mask;
  double overlap_weight = 10;     // weight of the overlap band in the L2 loss (the original's x10)
  double adversarial_weight = 0;  // 0 = L2 only (the usual choice for feature learning); in [0, 1)
  std::string objective = kContextObjective;  // not an option: which version of the method made a run
};

// "centre" / "blocks" and back ("center" and "random_blocks" are accepted too); ssl::Error otherwise.
std::string mask_mode_name(data::MaskOptions::Mode mode);
data::MaskOptions::Mode parse_mask_mode(const std::string& name);

// The stream-id tag that separates the mask's draws from the loader's (whose tags are the view numbers).
inline constexpr uint64_t kContextMaskTag = 0x636F6E74657874ull;  // "context"

// The mask and loss region of dataset sample `index` at step `context`, for an h x w image.
data::MaskedImage context_mask(const ContextOptions& options, int64_t h, int64_t w,
                               const StepContext& context, int64_t index);

// A batch's masks as float tensors [N, 1, H, W] (broadcast over the channels).
struct ContextMasks {
  Tensor hidden;   // 1 where the encoder's input is filled, 0 elsewhere
  Tensor weights;  // loss weight: 1 on hidden pixels, overlap_weight on the overlap band, 0 elsewhere
  Tensor region;   // 1 in the loss region (hidden pixels and the overlap band)
};
ContextMasks context_masks(const ContextOptions& options, const std::vector<int64_t>& indices, int64_t h,
                           int64_t w, const StepContext& context, Device device = Device::cpu());

// sum(masks.weights * (reconstruction - target)^2) / (elements of the loss region over all channels); the
// masks are [N, 1, H, W] or the target's shape.
Tensor masked_l2_loss(const Tensor& reconstruction, const Tensor& target, const ContextMasks& masks);

// Encoder features [N, F] -> image [N, 3, S, S]: Linear(F -> 512) and ReLU (a bottleneck that keeps the
// next layer small even for convnet2's 65,536 features at 128 px), Linear(512 -> 64 (S/8)^2) reshaped to
// [N, 64, S/8, S/8], BN + ReLU, three ConvTranspose2d(4, stride 2, padding 1) + BN + ReLU stages that each
// double the side (64 -> 64 -> 32 -> 16 channels), and a 3x3 convolution to 3 channels with no
// activation (the target is the normalised image). S must be a multiple of 8.
class ContextDecoder : public nn::Module {
 public:
  ContextDecoder(int64_t feature_dim, int64_t image_size);
  Tensor forward(const Tensor& features) override;

  int64_t image_size;
  std::shared_ptr<nn::Linear> bottleneck, fc;
  std::shared_ptr<nn::BatchNorm> bn0, bn1, bn2, bn3;
  std::shared_ptr<nn::ConvTranspose2d> up1, up2, up3;
  std::shared_ptr<nn::Conv2d> out;
};

// Real vs reconstructed region: three 4x4 stride-2 convolutions (3 -> 32 -> 64 -> 64, LeakyReLU 0.2, no
// BatchNorm so that running it on real and fake batches separately keeps no shared state), global average
// pooling, Linear(64 -> 1): one logit per image.
class ContextDiscriminator : public nn::Module {
 public:
  ContextDiscriminator();
  Tensor forward(const Tensor& images) override { return forward(images, false); }
  // frozen: the parameters enter as detached copies, so no gradient reaches them from this call.
  Tensor forward(const Tensor& images, bool frozen);

  std::shared_ptr<nn::Conv2d> conv1, conv2, conv3;
  std::shared_ptr<nn::Linear> fc;
};

class ContextEncoder : public PretextMethod {
 public:
  // fill: the value of the hidden pixels per channel, in the loader's normalised units (0 = its mean).
  ContextEncoder(nn::EncoderPtr encoder, ContextOptions options = {}, std::vector<float> fill = {0, 0, 0});

  // The encoder's input and the masks of a batch, as loss() uses them.
  struct Step {
    Tensor input;  // the batch's images with the hidden pixels set to the fill
    ContextMasks masks;
  };
  Step prepare(const data::Batch& batch, const StepContext& context) const;

  // images [N, 3, S, S] (already masked) -> reconstruction [N, 3, S, S].
  Tensor forward(const Tensor& images) override { return decoder->forward(encoder->forward(images)); }
  Tensor loss(const data::Batch& batch, const StepContext& context) override;

  ContextOptions options;
  std::vector<float> fill;  // one value per channel
  std::shared_ptr<ContextDecoder> decoder;
  std::shared_ptr<ContextDiscriminator> discriminator;  // only when options.adversarial_weight > 0
};

}  // namespace ssl
