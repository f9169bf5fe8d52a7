#include "nn/sgan.h"

namespace ssl::nn {

namespace {
bool power_of_two(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

// DCGAN's initialisation: conv weights N(0, 0.02); BN weight N(1, 0.02), bias 0. Biases keep their default.
// Takes any layer with a `weight` and returns it, redrawn.
template <class Layer>
std::shared_ptr<Layer> dcgan_init(std::shared_ptr<Layer> layer) {
  NoGradGuard no_grad;
  layer->weight.copy_(Tensor::normal(layer->weight.shape(), 0, 0.02));
  return layer;
}
std::shared_ptr<BatchNorm> dcgan_bn(int64_t c) {
  auto bn = std::make_shared<BatchNorm>(c);
  NoGradGuard no_grad;
  bn->weight.copy_(Tensor::normal({c}, 1, 0.02));
  return bn;
}
std::shared_ptr<Conv2d> dcgan_conv(int64_t in, int64_t out, int64_t stride, bool bias) {
  return dcgan_init(std::make_shared<Conv2d>(in, out, 3, Conv2dArgs{stride, 1, 1}, bias));
}
std::shared_ptr<ConvTranspose2d> dcgan_deconv(int64_t in, int64_t out, ConvTranspose2dArgs a) {
  return dcgan_init(std::make_shared<ConvTranspose2d>(in, out, 4, a, /*bias=*/false));
}
}  // namespace

void check_sgan_image_size(int64_t image_size, const std::string& who) {
  SSL_CHECK(power_of_two(image_size) && image_size >= 16 && image_size <= 256, who,
            " must be a power of two in [16, 256], got ", image_size);
}

SganGenerator::SganGenerator(int64_t latent_, int64_t image_size_, int64_t channels_)
    : latent(latent_), image_size(image_size_), channels(channels_) {
  SSL_CHECK(latent >= 1 && channels >= 1, "sgan_generator: latent size and channels must be positive, got ",
            latent, " and ", channels);
  check_sgan_image_size(image_size, "sgan_generator: image size");
  main = register_module("main", std::make_shared<Sequential>());
  int64_t c = 512;
  main->append(dcgan_deconv(latent, c, {1, 0}));  // 1×1 → 4×4
  main->append(dcgan_bn(c));
  main->append(std::make_shared<ReLU>());
  main->append(dcgan_deconv(c, c / 2, {2, 1}));  // 4×4 → 8×8
  c /= 2;
  main->append(dcgan_bn(c));
  main->append(std::make_shared<ReLU>());
  for (int64_t size = 8; size < image_size; size *= 2) {
    const bool last = size * 2 == image_size;
    const int64_t out = last ? channels : c / 2;
    main->append(dcgan_init(std::make_shared<UpsampleConv2d>(c, out, /*bias=*/last)));  // size → 2·size
    if (last) {
      main->append(std::make_shared<Tanh>());
    } else {
      main->append(dcgan_bn(out));
      main->append(std::make_shared<ReLU>());
    }
    c = out;
  }
}

Tensor SganGenerator::forward(const Tensor& z) {
  SSL_CHECK((z.dim() == 2 && z.size(1) == latent) ||
                (z.dim() == 4 && z.size(1) == latent && z.size(2) == 1 && z.size(3) == 1),
            "SganGenerator: expected z [N, ", latent, "] or [N, ", latent, ", 1, 1], got ", z.shape());
  return main->forward(z.dim() == 2 ? z.reshape({z.size(0), latent, 1, 1}) : z);
}

namespace {
void check_trunk_size(int64_t image_size, const char* who) {
  SSL_CHECK(image_size >= 8 && image_size % 8 == 0, who, ": image size must be a multiple of 8, got ",
            image_size);
}

constexpr size_t kTrunkLayers = 8;  // the discriminator's main.0 to main.7

// The trunk's layers, drawn from the default generator in this order (a braced list is evaluated left to
// right).
std::vector<ModulePtr> discriminator_trunk_layers(int64_t channels) {
  return {dcgan_conv(channels, 32, 2, /*bias=*/true),
          std::make_shared<LeakyReLU>(0.2),
          dcgan_conv(32, 64, 2, /*bias=*/false),
          dcgan_bn(64),
          std::make_shared<LeakyReLU>(0.2),
          dcgan_conv(64, 128, 2, /*bias=*/false),
          dcgan_bn(128),
          std::make_shared<LeakyReLU>(0.2)};
}

// The trunk's layers, then a flatten, as an encoder with a cut after each LeakyReLU.
EncoderPtr trunk_encoder(const std::vector<ModulePtr>& layers, int64_t image_size) {
  auto e = std::make_shared<Encoder>();
  for (const ModulePtr& layer : layers) e->append(layer);
  e->append(std::make_shared<Flatten>());
  const int64_t s = image_size / 8;
  e->feature_dim = 128 * s * s;
  e->cut_points = {{"conv1", 2}, {"conv2", 5}, {"conv3", e->size()}};
  return e;
}
}  // namespace

EncoderPtr sgan_trunk(int64_t image_size, int64_t channels) {
  check_trunk_size(image_size, "sgan_trunk");
  return trunk_encoder(discriminator_trunk_layers(channels), image_size);
}

SganDiscriminator::SganDiscriminator(int64_t classes_, int64_t image_size_, int64_t channels_)
    : classes(classes_), image_size(image_size_), channels(channels_) {
  SSL_CHECK(classes >= 1 && channels >= 1, "sgan_discriminator: classes and channels must be positive, got ",
            classes, " and ", channels);
  check_trunk_size(image_size, "sgan_discriminator");
  main = register_module("main", std::make_shared<Sequential>());
  const auto add = [&](ModulePtr m) {
    main->append(m);
    layers_.push_back(std::move(m));
  };
  for (ModulePtr& layer : discriminator_trunk_layers(channels)) add(std::move(layer));
  add(std::make_shared<Dropout>(0.5));
  add(std::make_shared<Flatten>());
  const int64_t s = image_size / 8;
  add(std::make_shared<Linear>(128 * s * s, classes + 1));
}

Tensor SganDiscriminator::forward(const Tensor& x) {
  SSL_CHECK(x.dim() == 4 && x.size(1) == channels && x.size(2) == image_size && x.size(3) == image_size,
            "SganDiscriminator: expected images [N, ", channels, ", ", image_size, ", ", image_size,
            "], got ", x.shape());
  return main->forward(x);
}

Tensor SganDiscriminator::features(const Tensor& x) {
  SSL_CHECK(x.dim() == 4 && x.size(1) == channels && x.size(2) == image_size && x.size(3) == image_size,
            "SganDiscriminator: expected images [N, ", channels, ", ", image_size, ", ", image_size,
            "], got ", x.shape());
  Tensor h = x;
  for (size_t i = 0; i + 1 < layers_.size(); ++i) h = layers_[i]->forward(h);
  return h;
}

Tensor SganDiscriminator::classify(const Tensor& features) { return layers_.back()->forward(features); }

EncoderPtr SganDiscriminator::trunk() const {
  return trunk_encoder({layers_.begin(), layers_.begin() + kTrunkLayers}, image_size);
}

std::shared_ptr<SganGenerator> sgan_generator(int64_t latent, int64_t image_size) {
  return std::make_shared<SganGenerator>(latent, image_size);
}

std::shared_ptr<SganDiscriminator> sgan_discriminator(int64_t classes, int64_t image_size) {
  return std::make_shared<SganDiscriminator>(classes, image_size);
}

}  // namespace ssl::nn
