#include "ssl/context_encoder.h"

#include "core/ops_nn.h"

namespace ssl {

namespace {
constexpr int64_t kBottleneck = 512;  // width of the decoder's first linear layer
constexpr int64_t kBaseChannels = 64;
}  // namespace

std::string mask_mode_name(data::MaskOptions::Mode mode) {
  return mode == data::MaskOptions::Mode::centre ? "centre" : "blocks";
}

data::MaskOptions::Mode parse_mask_mode(const std::string& name) {
  if (name == "centre" || name == "center") return data::MaskOptions::Mode::centre;
  if (name == "blocks" || name == "random_blocks") return data::MaskOptions::Mode::random_blocks;
  throw Error(str_cat("context: unknown mask mode '", name, "'; expected centre or blocks"));
}

data::MaskedImage context_mask(const ContextOptions& options, int64_t h, int64_t w,
                               const StepContext& context, int64_t index) {
  rng::Stream stream = context.stream(index, kContextMaskTag);
  // Only the geometry is wanted: a blank one-channel image gives it without copying the real pixels.
  return data::mask_region(data::Image(h, w, 1), options.mask, stream);
}

ContextMasks context_masks(const ContextOptions& options, const std::vector<int64_t>& indices, int64_t h,
                           int64_t w, const StepContext& context, Device device) {
  const int64_t n = int64_t(indices.size()), plane = h * w;
  std::vector<float> hidden(size_t(n * plane)), weights(size_t(n * plane)), region(size_t(n * plane));
  for (int64_t i = 0; i < n; ++i) {
    const data::MaskedImage m = context_mask(options, h, w, context, indices[size_t(i)]);
    for (int64_t p = 0; p < plane; ++p) {
      const size_t k = size_t(i * plane + p);
      hidden[k] = m.mask[size_t(p)] ? 1.f : 0.f;
      region[k] = m.loss_region[size_t(p)] ? 1.f : 0.f;
      weights[k] = m.mask[size_t(p)] ? 1.f : (m.loss_region[size_t(p)] ? float(options.overlap_weight) : 0.f);
    }
  }
  return {Tensor::from_vector(hidden, {n, 1, h, w}, device),
          Tensor::from_vector(weights, {n, 1, h, w}, device),
          Tensor::from_vector(region, {n, 1, h, w}, device)};
}

Tensor masked_l2_loss(const Tensor& reconstruction, const Tensor& target, const ContextMasks& masks) {
  SSL_CHECK(reconstruction.shape() == target.shape(), "context: reconstruction ", reconstruction.shape(),
            " and target ", target.shape(), " differ in shape");
  const Tensor& weights = masks.weights;
  SSL_CHECK(weights.dim() == target.dim() && masks.region.shape() == weights.shape() &&
                target.numel() % std::max<int64_t>(1, weights.numel()) == 0,
            "context: weights ", weights.shape(), " and region ", masks.region.shape(),
            " do not both broadcast to ", target.shape());
  const Tensor diff = reconstruction - target.detach();
  double elements = 0;
  {
    NoGradGuard no_grad;
    elements = sum(masks.region).item() * double(target.numel() / weights.numel());
  }
  SSL_CHECK(elements > 0, "context: the loss region is empty");
  return sum(diff * diff * weights.detach()) * (1.0 / elements);
}

// ---- decoder ---------------------------------------------------------------------------------------------

ContextDecoder::ContextDecoder(int64_t feature_dim, int64_t size) : image_size(size) {
  SSL_CHECK(size >= 8 && size % 8 == 0,
            "context: the decoder needs an image size that is a multiple of 8, got ", size);
  SSL_CHECK(feature_dim >= 1, "context: feature dimension must be positive, got ", feature_dim);
  const int64_t s0 = size / 8, c = kBaseChannels;
  const ConvTranspose2dArgs up{2, 1, 0, 1};  // kernel 4, stride 2, padding 1: doubles the side exactly
  bottleneck = register_module("bottleneck", std::make_shared<nn::Linear>(feature_dim, kBottleneck));
  fc = register_module("fc", std::make_shared<nn::Linear>(kBottleneck, c * s0 * s0));
  bn0 = register_module("bn0", std::make_shared<nn::BatchNorm>(c));
  up1 = register_module("up1", std::make_shared<nn::ConvTranspose2d>(c, c, 4, up, false));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm>(c));
  up2 = register_module("up2", std::make_shared<nn::ConvTranspose2d>(c, c / 2, 4, up, false));
  bn2 = register_module("bn2", std::make_shared<nn::BatchNorm>(c / 2));
  up3 = register_module("up3", std::make_shared<nn::ConvTranspose2d>(c / 2, c / 4, 4, up, false));
  bn3 = register_module("bn3", std::make_shared<nn::BatchNorm>(c / 4));
  out = register_module("out", std::make_shared<nn::Conv2d>(c / 4, 3, 3, Conv2dArgs{1, 1, 1}));
}

Tensor ContextDecoder::forward(const Tensor& features) {
  SSL_CHECK(features.dim() == 2 && features.size(1) == bottleneck->weight.size(1),
            "context: the decoder expects features [N, ", bottleneck->weight.size(1), "], got ",
            features.shape());
  const int64_t s0 = image_size / 8;
  Tensor x =
      fc->forward(relu(bottleneck->forward(features))).reshape({features.size(0), kBaseChannels, s0, s0});
  x = bn0->forward_relu(x);
  x = bn1->forward_relu(up1->forward(x));
  x = bn2->forward_relu(up2->forward(x));
  x = bn3->forward_relu(up3->forward(x));
  return out->forward(x);
}

// ---- discriminator ---------------------------------------------------------------------------------------

ContextDiscriminator::ContextDiscriminator() {
  const Conv2dArgs down{2, 1, 1};
  conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(3, 32, 4, down));
  conv2 = register_module("conv2", std::make_shared<nn::Conv2d>(32, 64, 4, down));
  conv3 = register_module("conv3", std::make_shared<nn::Conv2d>(64, 64, 4, down));
  fc = register_module("fc", std::make_shared<nn::Linear>(64, 1));
}

Tensor ContextDiscriminator::forward(const Tensor& images, bool frozen) {
  const auto p = [frozen](const Tensor& t) { return frozen ? t.detach() : t; };
  Tensor x = images;
  for (const auto& conv : {conv1, conv2, conv3})
    x = leaky_relu(conv2d(x, p(conv->weight), p(conv->bias), conv->args), 0.2);
  x = adaptive_avg_pool2d(x, 1, 1).flatten(1);
  return linear(x, p(fc->weight), p(fc->bias));
}

// ---- the method ------------------------------------------------------------------------------------------

ContextEncoder::ContextEncoder(nn::EncoderPtr enc, ContextOptions o, std::vector<float> fill_value)
    : options(std::move(o)), fill(std::move(fill_value)) {
  SSL_CHECK(fill.size() == 3, "context: expected a fill value for each of 3 channels, got ", fill.size());
  SSL_CHECK(options.overlap_weight >= 0, "context: overlap weight must be >= 0, got ",
            options.overlap_weight);
  SSL_CHECK(options.adversarial_weight >= 0 && options.adversarial_weight < 1,
            "context: adversarial weight must be in [0, 1), got ", options.adversarial_weight);
  data::check_mask_options(options.mask);  // here, not at the first batch, so a bad run writes nothing
  SSL_CHECK(enc->image_size > 0, "context: the encoder's image size is unknown (build it with make_encoder)");
  encoder = register_module("encoder", std::move(enc));
  decoder =
      register_module("decoder", std::make_shared<ContextDecoder>(encoder->feature_dim, encoder->image_size));
  if (options.adversarial_weight > 0)
    discriminator = register_module("discriminator", std::make_shared<ContextDiscriminator>());
  // One mask drawn now: a geometry the image cannot hold (an overlap as wide as half the hole) is refused
  // before a run writes anything.
  context_mask(options, encoder->image_size, encoder->image_size, StepContext{}, 0);
}

ContextEncoder::Step ContextEncoder::prepare(const data::Batch& batch, const StepContext& context) const {
  const Tensor& images = batch.images;
  SSL_CHECK(images.dim() == 4 && images.size(1) == 3 && images.size(2) == encoder->image_size &&
                images.size(3) == encoder->image_size,
            "context: expected images [N, 3, ", encoder->image_size, ", ", encoder->image_size, "], got ",
            images.shape());
  SSL_CHECK(batch.size() == images.size(0), "context: ", batch.size(), " indices for ", images.size(0),
            " images (one view per image expected)");
  Step step;
  step.masks =
      context_masks(options, batch.indices, images.size(2), images.size(3), context, images.device());
  NoGradGuard no_grad;
  const Tensor& hidden = step.masks.hidden;
  step.input = add(mul(images, add(neg(hidden), 1.0)),  // hidden pixels -> 0, the others unchanged
                   mul(hidden, Tensor::from_vector(fill, {1, 3, 1, 1}, images.device())));  // then the fill
  return step;
}

Tensor ContextEncoder::loss(const data::Batch& batch, const StepContext& context) {
  const Step step = prepare(batch, context);
  const Tensor& real = batch.images;
  const Tensor reconstruction = forward(step.input);
  const Tensor l2 = masked_l2_loss(reconstruction, real, step.masks);
  if (!discriminator) return l2;
  const double w = options.adversarial_weight;
  const Tensor real_region = mul(real.detach(), step.masks.region);
  const Tensor fake_region = mul(reconstruction, step.masks.region);
  const int64_t n = real.size(0);
  const Tensor ones = Tensor::ones({n, 1}, DType::f32, real.device());
  const Tensor zeros = Tensor::zeros({n, 1}, DType::f32, real.device());
  // Encoder and decoder: fool a discriminator whose parameters this term must not move.
  const Tensor generator = binary_cross_entropy_with_logits(discriminator->forward(fake_region, true), ones);
  // Discriminator: real regions vs reconstructions that this term must not move.
  const Tensor critic =
      add(binary_cross_entropy_with_logits(discriminator->forward(real_region, false), ones),
          binary_cross_entropy_with_logits(discriminator->forward(fake_region.detach(), false), zeros));
  return add(add(mul(l2, 1.0 - w), mul(generator, w)), critic);
}

}  // namespace ssl
