// A pre-training method as the runner (ssl/pretrain.cpp) sees it. The runner owns everything common to
// every method: the dataset and loader, the optimizer and learning-rate schedule, the per-epoch metrics,
// checkpoints and --resume. A method owns its model (the encoder plus its own heads, as one Module whose
// state the checkpoint saves), says how the loader should prepare images for it (views per image and the
// augmentation of each view), and turns a batch into a scalar loss.
#pragma once

#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/rng.h"
#include "data/loader.h"
#include "data/transforms.h"
#include "nn/models.h"

namespace ssl {

struct PretrainOptions;

// Everything a method needs to know about the step it is asked for, beyond the batch: its randomness must
// come from here (streams keyed by seed, epoch and sample index), so a run is reproducible and resumable.
struct StepContext {
  uint64_t seed = 0;
  int64_t epoch = 0;                      // 0-based
  const data::Batch* labelled = nullptr;  // a batch of labelled images, for methods trained with one

  // The random stream of sample `index` in this epoch, for the draws a method tags `tag`.
  rng::Stream stream(int64_t index, uint64_t tag) const {
    return rng::Stream(seed, rng::mix64(rng::mix64(uint64_t(epoch), uint64_t(index)), tag));
  }
};

class PretextMethod : public nn::Module {
 public:
  // The scalar loss of one batch as the loader produced it (images normalised, views stacked as
  // data/loader.h describes).
  virtual Tensor loss(const data::Batch& batch, const StepContext& context) = 0;

  // The encoder whose features the method learns; saved as encoder.safetensors.
  nn::EncoderPtr encoder;
  // The step's training accuracy, set by loss() in methods that classify something (rotation, patch,
  // supervised, finetune, SimCLR's joint probe; the runner averages it per epoch); NaN otherwise.
  double last_accuracy = std::numeric_limits<double>::quiet_NaN();

 protected:
  // cross_entropy(logits, labels), with the batch's top-1 accuracy put in last_accuracy. A loss that is not
  // finite leaves last_accuracy alone: the runner reports it, with the epoch and the learning rate.
  Tensor classification_loss(const Tensor& logits, const Tensor& labels);
};

// A method with the loader settings it needs.
struct MethodSetup {
  std::shared_ptr<PretextMethod> model;
  std::unique_ptr<data::Transform> augmentation;  // applied to every view; null = images as decoded
  int views = 1;                                  // views per image
  bool drop_last = true;                          // methods whose loss assumes a full batch
};

// The method named by options.method, built on a fresh encoder of options.model (finetune: the encoder of
// options.init) for the images of `data` (supervised methods take its classes). Throws ssl::Error listing
// the methods when the name is unknown.
MethodSetup make_method(const PretrainOptions& options, const data::Dataset& data);
std::vector<std::string> method_names();

}  // namespace ssl
