// Internal to the SGAN runner: what its files share, and nothing a caller of ssl/sgan.h needs. The runner is
// split by purpose:
//   ssl/sgan.cpp          the training loop: the two steps of a training step, an epoch, and train_sgan
//   ssl/sgan_models.cpp   the networks (the discriminator variants, their average) and scoring them
//   ssl/sgan_data.cpp     the images and their loaders
//   ssl/sgan_outputs.cpp  the files a run writes beside its checkpoint (metrics, samples, networks, results)
//   ssl/sgan_losses.cpp, ssl/sgan_options.cpp   the loss terms, and the options as config.json holds them
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/loader.h"
#include "data/transforms.h"
#include "nn/models.h"
#include "nn/module.h"
#include "nn/sgan.h"
#include "ssl/linear_probe.h"
#include "ssl/sgan.h"

namespace ssl {

// ---- the networks (ssl/sgan_models.cpp) ------------------------------------------------------------------

// The discriminator as the runner uses it: penultimate features of images in [−1, 1], and K+1 logits.
// Two variants: nn::SganDiscriminator (DCGAN-style), or a pretrained encoder with a new Linear(F → K+1) head.
class Discriminator : public nn::Module {
 public:
  virtual Tensor features(const Tensor& x) = 0;
  virtual Tensor classify(const Tensor& features) = 0;
  Tensor forward(const Tensor& x) override { return classify(features(x)); }
  // What computes features(x), written as an encoder for `ssl eval` and `ssl embed`: its tensors, named as
  // that encoder's are. An encoder takes images normalised as ssl/features.h does, twice this network's
  // [−1, 1] input, so these are weights for inputs twice as large.
  virtual std::vector<std::pair<std::string, Tensor>> encoder_state() const = 0;
};

// The networks as one module, so the checkpoint holds them under generator.*, discriminator.* and, when
// the discriminator is averaged, discriminator_ema.*.
class SganModels final : public nn::Module {
 public:
  SganModels(std::shared_ptr<nn::SganGenerator> g, std::shared_ptr<Discriminator> d,
             std::shared_ptr<Discriminator> d_ema)
      : generator(register_module("generator", std::move(g))),
        discriminator(register_module("discriminator", std::move(d))),
        discriminator_ema(d_ema ? register_module("discriminator_ema", std::move(d_ema)) : nullptr) {}
  Tensor forward(const Tensor& z) override { return discriminator->forward(generator->forward(z)); }
  // The discriminator that is evaluated and written out: the average when there is one.
  Discriminator& evaluated() const { return discriminator_ema ? *discriminator_ema : *discriminator; }
  std::shared_ptr<nn::SganGenerator> generator;
  std::shared_ptr<Discriminator> discriminator;
  std::shared_ptr<Discriminator> discriminator_ema;  // null without ema_decay
};

// The networks the options ask for, for `classes` real classes, drawn from the default generator (which the
// run has seeded); the average, with ema_decay, starts as a copy of the discriminator.
SganModels make_sgan_models(const SganOptions& o, int64_t classes);

// Top-1/Top-5 of the discriminator's K-class prediction (logit K left out) on every batch of `loader`, in
// eval mode.
TopK score_discriminator(Discriminator& d, data::Loader& loader);

// ---- the data (ssl/sgan_data.cpp) ------------------------------------------------------------------------

// The run's images and their loaders. An epoch is steps_per_epoch steps, one per unlabelled batch (without
// unlabelled images, one per labelled batch); the labelled loader is cycled `cycles` times within it.
struct SganData {
  std::unique_ptr<data::Dataset> labelled, unlabelled, test;  // unlabelled: semi-supervised runs only
  std::unique_ptr<data::Transform> labelled_resize, unlabelled_resize, test_resize;
  std::unique_ptr<data::Loader> lab_loader, unl_loader, test_loader;
  std::unique_ptr<data::Loader> labelled_scoring_loader;  // the labelled images in order, for the final score
  int64_t classes = 0, steps_per_epoch = 0, cycles = 0;
};

// Opens the options' data sets, checks that the labelled and the test images carry labels of the same
// classes, and makes their loaders (batches in pinned memory when `device` is a GPU).
SganData open_sgan_data(const SganOptions& o, Device device);

// ---- the files a run writes (ssl/sgan_outputs.cpp) -------------------------------------------------------

// The epochs' records, as metrics.jsonl and the checkpoint's metadata hold them (one object each), and
// back (`source` names the checkpoint in errors); and as metrics.csv holds them.
nlohmann::json metrics_json(const std::vector<SganEpochMetrics>& metrics);
std::vector<SganEpochMetrics> sgan_metrics_from_json(const nlohmann::json& a, const std::string& source);
std::string metrics_csv(const std::vector<SganEpochMetrics>& metrics);

// After an epoch: the sample grid when one is due (drawn from `fixed_z`; none in a supervised-only run, whose
// generator never trains), and both networks (and a pretrained discriminator's encoder) as they stand.
void write_epoch_outputs(const SganOptions& o, const SganModels& models, const Tensor& fixed_z, int64_t epoch,
                         int64_t classes);

// results.json, after the last epoch (`last`). `train`: the final discriminator scored on the labelled
// images, as the test set is (the metrics' train_accuracy is the running accuracy on the epoch's batches,
// while the weights still changed).
void write_results(const SganOptions& o, const SganEpochMetrics& last, const TopK& train,
                   int64_t train_images, int64_t test_images);

}  // namespace ssl
