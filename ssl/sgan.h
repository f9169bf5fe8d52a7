// The semi-supervised GAN (SGAN: Odena, 2016; Salimans et al., 2016) and its training runner.
//
// The discriminator classifies an image into the K real classes of the labelled data or as "fake"; the
// generator (nn/sgan.h) learns to make images the discriminator takes for real. The unlabelled images teach
// the discriminator what "real" looks like, which is what helps its classifier when labels are few.
//
// Logits. nn::SganDiscriminator outputs K+1 logits, logit K being "fake". Two forms of the fake class:
//   fixed     (Salimans) the fake logit is fixed at 0, so only logits 0..K−1 are used and logit K is ignored:
//             with Z = Σ_k exp(l_k) and lse = log Z, D(real) = Z / (Z + 1).
//   explicit  (Odena) all K+1 logits, p_fake = softmax(l)_K.
// The fixed form is the explicit one with l_K = 0 (then log Σ_{k≤K} exp l_k = softplus(lse)).
//
// Loss terms, each a mean over its batch:
//   labelled     cross-entropy of the label over the K real-class logits (p(y | x, real))
//   unlabelled   −log D(x):        fixed −lse + softplus(lse);  explicit −log(1 − p_fake)
//   generated    −log(1 − D(G(z))): fixed softplus(lse);        explicit −log p_fake
// Discriminator step: labelled + w · (unlabelled + generated), the generated images detached, w the
// unsupervised weight (1 by default; Salimans et al.'s code halves the two terms). Generator step,
// after it: feature matching (the squared difference of the mean penultimate features of the unlabelled
// real batch and of the generated batch, averaged over features; the real ones without gradient) or the
// non-saturating −log D(G(z)) (the unlabelled term on generated images). The discriminator's BatchNorm
// running statistics, which evaluation uses, are those of real images only: the passes over generated
// images and the generator step leave them as they were.
//
// Pixels. Every image the discriminator sees is in [−1, 1], the range of the generator's tanh: the loaders
// normalise real images as (x/255 − 0.5) / 0.5 (not the project's usual / 0.25). A pretrained encoder used as
// the discriminator (init_discriminator) gets its input doubled, which is exactly the project's normalisation
// (x/255 − 0.5) / 0.25 it was trained with.
//
// Output directory:
//   config.json                 the options
//   metrics.jsonl / .csv        per epoch: epoch, d_loss (= d_supervised + w · (d_unlabelled + d_fake),
//                               its three terms recorded too), g_loss, train_accuracy (on the labelled
//                               batches, training mode), test_top1, test_top5 (the discriminator's
//                               K-class prediction in eval mode; with ema_decay, the averaged
//                               discriminator's), seconds
//   samples_epoch_NNN.png       8×8 generated images from a fixed z (generator in eval mode), after epoch 1,
//                               every sample_every epochs and the last (none in a supervised-only run:
//                               its generator never trains)
//   generator.safetensors, discriminator.safetensors   the two networks (state_dict names); with
//                               ema_decay, the discriminator's averaged weights, the ones evaluated
//   encoder.safetensors         the evaluated discriminator's features as an encoder (ssl eval, ssl embed):
//                               its trunk (nn::sgan_trunk), or with init_discriminator the pretrained encoder
//   checkpoint.safetensors      the training state after the last completed epoch: both networks under
//                               model.generator.* / model.discriminator.* (and the average under
//                               model.discriminator_ema.*), the two Adam states under
//                               optimizer.generator.* / optimizer.discriminator.*, epoch, step, the default
//                               generator's state, config and metrics (format "ssl.sgan_train_state.v1")
//   results.json                {"method": "sgan", "variant", "feature_matching", "fake_logit",
//                               "unsupervised_weight", "ema_decay",
//                               "epochs", "train_accuracy" (the last epoch's running accuracy on labelled
//                               batches), "splits": {"train" (the final discriminator on the labelled
//                               images), "test": {"top1", "top5", "data", "images"}}}
//
// Variants (Study B): semi-supervised (the default); supervised-only (unlabelled empty: the same
// discriminator trained as a plain classifier on the labelled images, no generated images, generator left
// untrained and g_loss 0); pretrained discriminator (init_discriminator: a pretrain or sgan output directory
// whose encoder, with a new Linear(F → K+1) head, replaces nn::SganDiscriminator).
//
// An epoch is one pass over the unlabelled images (supervised-only: over the labelled ones), or its first
// max_steps_per_epoch batches; the labelled images are cycled as often as needed, the c-th pass of epoch e
// using loader epoch e·C + c, so batches are pure functions of (seed, epoch, step). With the default
// generator restored, --resume continues exactly.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "nn/module.h"

namespace ssl {

enum class FakeLogit { fixed, explicit_logit };
// "fixed" or "explicit"; throws ssl::Error otherwise.
FakeLogit parse_fake_logit(const std::string& name);

// Logits 0..K−1 of [N, K+1]: the real classes, whose arg-max is the discriminator's class prediction.
Tensor real_logits(const Tensor& logits);

// logits [N, K+1] (logit K the fake class), labels int64 [N] in [0, K).
Tensor sgan_supervised_loss(const Tensor& logits, const Tensor& labels);
Tensor sgan_unlabelled_loss(const Tensor& logits, FakeLogit form);
Tensor sgan_fake_loss(const Tensor& logits, FakeLogit form);
// Feature matching: mean over features of (mean over the batch of fake − mean over the batch of real)².
Tensor sgan_feature_matching_loss(const Tensor& real_features, const Tensor& fake_features);

// The moving average of the discriminator: the decay at update t, min(decay, (1 + t) / (10 + t)), and one
// update, average ← d · average + (1 − d) · live over every floating tensor of the two modules' states
// (weights and BatchNorm running statistics, in state order; the modules must have the same structure);
// integer ones (counters) are copied.
double ema_decay_at(double decay, int64_t t);
void update_average(const nn::Module& average, const nn::Module& live, double d);

struct SganOptions {
  std::string labelled = "synthetic:train@20";
  std::string unlabelled = "synthetic:train@20,rest";  // empty: the supervised-only variant
  std::string test = "synthetic:test";
  std::string out_dir = "runs/sgan";
  int64_t image_size = 32;  // images of another size are resized to it
  int64_t epochs = 100;
  int64_t batch_size = 64;  // unlabelled, generated and (at most) labelled images per step
  int64_t latent = 100;
  double lr = 2e-4;  // Adam for both networks
  double beta1 = 0.5;
  bool feature_matching = true;
  std::string fake_logit = "fixed";  // fixed or explicit
  double unsupervised_weight = 1;  // w of the discriminator's loss: labelled + w · (unlabelled + generated)
  // > 0: evaluate (and write) an exponential moving average of the discriminator's weights and running
  // statistics, updated after every discriminator step with decay min(ema_decay, (1 + t) / (10 + t)) at
  // update t (short runs average over their recent steps, long ones over ~1 / (1 − ema_decay)). 0: the
  // trained weights themselves.
  double ema_decay = 0;
  std::string init_discriminator;  // a pretrain or sgan output directory (or random:MODEL); empty =
                                   // nn::SganDiscriminator
  std::string init_fingerprint;  // not an option: as PretrainOptions::init_fingerprint, of init_discriminator
  uint64_t seed = 0;
  int workers = 1;
  int threads = 0;             // compute threads, as PretrainOptions::threads
  std::string device = "cpu";  // where both networks train: cpu, cuda or cuda:N
  bool skip_bad_images = false;
  int64_t sample_every = 5;         // epochs between sample grids (also after epoch 1 and the last)
  int64_t max_steps_per_epoch = 0;  // 0 = the whole epoch (fewer for quick runs and tests)
  bool show_progress = true;
  bool resume = false;  // continue the run in out_dir from its checkpoint.safetensors
  // End the run after this many epochs (0 = never), as a kill after that epoch's checkpoint would: for
  // tests of resume. Not part of the config.
  int64_t stop_after_epochs = 0;
};

struct SganEpochMetrics {
  int64_t epoch = 0;
  double d_loss = 0, d_supervised = 0, d_unlabelled = 0, d_fake = 0, g_loss = 0;
  double train_accuracy = 0, test_top1 = 0, test_top5 = 0, seconds = 0;
};

// Trains (or resumes) the run and returns the metrics of every epoch, restored ones included. A resumed run
// that has completed its epochs but not written its results.json (stopped in between) is scored and written.
std::vector<SganEpochMetrics> train_sgan(const SganOptions& options);

// What pretrain_or_continue (ssl/pretrain.h) is for pre-training: trains, continues the run in
// options.out_dir, or keeps it when it has completed options.epochs and written its results.json; the options
// must agree in every case, so that a finished run made with other settings (another --test, say) is never
// passed off as this one. A run whose starting discriminator's encoder has changed is trained again. `name`
// is the run's name in what is printed.
void sgan_or_continue(SganOptions options, const std::string& name);

// config.json's content (every option that shapes the results, plus workers, device, threads and
// sample_every), and back; keys absent from `j` keep their defaults.
nlohmann::json sgan_options_json(const SganOptions& o);
SganOptions sgan_options_from_json(const nlohmann::json& j);
// The options saved in DIR/checkpoint.safetensors, with out_dir = DIR and resume = true.
SganOptions sgan_resume_options(const std::string& dir);
// Throws ssl::Error naming `source` and every option that differs from `saved`, other than epochs, workers,
// device, threads and sample_every.
void check_sgan_resume_options(const SganOptions& saved, const SganOptions& o, const std::string& source);

}  // namespace ssl
