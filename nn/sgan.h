// The semi-supervised GAN's two networks (SGAN: Odena, 2016; Salimans et al., 2016), DCGAN-style
// (Radford et al., 2016): batch norm, ReLU in the generator, LeakyReLU(0.2) in the discriminator, Tanh
// output, N(0, 0.02) convolution weights and N(1, 0.02) BN scales. For square images of 32 to 128 pixels (any
// power of two from 16 to 256 works).
//
// Generator, z [N, latent] (or [N, latent, 1, 1]) → images [N, 3, S, S] in (−1, 1):
//   main.0  ConvTranspose2d(latent → 512, 4×4) on the 1×1 "image" z: 4×4      main.1 BN, main.2 ReLU
//   main.3  ConvTranspose2d(512 → 256, 4×4, stride 2, padding 1): 8×8          main.4 BN, main.5 ReLU
//   then per doubling up to S: UpsampleConv2d (nearest upsampling ×2, then a 3×3 convolution with padding 1)
//   halving the channels → BN → ReLU, from main.6; the last one maps to 3 channels (with bias) and is
//   followed by Tanh instead.
// The low-resolution doubling is a transposed convolution as in DCGAN; the higher ones are resize-
// convolutions, which avoid the checkerboard artefacts of strided transposed convolutions where they
// would show (Odena, Dumoulin and Olah, 2016). UpsampleConv2d computes one as a transposed convolution too,
// but with a 4×4 kernel made from the 3×3 one, so the artefact-free function is kept and 5/9 of the work is
// saved. At 128×128 with latent 100: 3,306,275 parameters.
//
// Discriminator, images [N, 3, S, S] → K+1 logits [N, classes + 1]; logits 0..K−1 are the real classes,
// logit K (the last) is "fake":
//   main.0 Conv2d(3 → 32, 3×3, stride 2, padding 1, bias), main.1 LeakyReLU(0.2)
//   main.2 Conv2d(32 → 64, 3×3, stride 2, padding 1), main.3 BN, main.4 LeakyReLU(0.2)
//   main.5 Conv2d(64 → 128, 3×3, stride 2, padding 1), main.6 BN, main.7 LeakyReLU(0.2)
//   main.8 Dropout(0.5), main.9 Flatten, main.10 Linear(128·(S/8)² → K+1)
// At 128×128 with 18 classes: 716,051 parameters.
//
// The discriminator's trunk, main.0 to main.7 and a flatten, is also an encoder (`--model sgan_trunk`):
// 128·(S/8)² features, read at conv1, conv2 or conv3 (after each LeakyReLU; conv3 is the output).
#pragma once

#include "nn/layers_extra.h"
#include "nn/models.h"

namespace ssl::nn {

// Throws ssl::Error, naming `who`, unless the generator can make `image_size` pictures: a power of two from
// 16 to 256 (it doubles 4 px until it gets there). ssl sgan checks its --image-size with it first.
void check_sgan_image_size(int64_t image_size, const std::string& who);

class SganGenerator : public Module {
 public:
  SganGenerator(int64_t latent = 100, int64_t image_size = 32, int64_t channels = 3);
  Tensor forward(const Tensor& z) override;
  std::shared_ptr<Sequential> main;
  int64_t latent, image_size, channels;
};

class SganDiscriminator : public Module {
 public:
  SganDiscriminator(int64_t classes, int64_t image_size = 32, int64_t channels = 3);
  Tensor forward(const Tensor& x) override;  // logits [N, classes + 1]
  // The penultimate features (the last Linear's input, after dropout and flatten) and the logits computed
  // from them: forward(x) == classify(features(x)). The SGAN's feature matching compares their means.
  Tensor features(const Tensor& x);
  Tensor classify(const Tensor& features);
  // The trunk as an encoder made of the same layers (shared, not copied): in evaluation mode, where dropout
  // passes its input through, trunk()->forward(x) is features(x).
  EncoderPtr trunk() const;
  std::shared_ptr<Sequential> main;
  int64_t classes, image_size, channels;

 private:
  std::vector<ModulePtr> layers_;  // main's layers, to run all but the last
};

std::shared_ptr<SganGenerator> sgan_generator(int64_t latent = 100, int64_t image_size = 32);
std::shared_ptr<SganDiscriminator> sgan_discriminator(int64_t classes, int64_t image_size = 32);
// A new trunk (image_size a multiple of 8), initialised as the discriminator's is.
EncoderPtr sgan_trunk(int64_t image_size = 32, int64_t channels = 3);

}  // namespace ssl::nn
