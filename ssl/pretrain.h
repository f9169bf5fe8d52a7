// The pre-training runner: data, augmentation, model, optimizer and schedule from one options struct;
// per-epoch metrics and the encoder written to the output directory.
//
// Output directory:
//   encoder.safetensors   the encoder's state (PyTorch state_dict names), metadata: model, image_size, method
//   config.json           the options of the run
//   metrics.jsonl / .csv  one record per epoch: epoch, loss, images_per_s (dataset images, not views),
//                         seconds, lr, and train_top1 for methods that classify (the CSV's column is empty
//                         for the others)
//   checkpoint.safetensors  the training state after the last completed epoch (nn/train_state.h): the whole
//                         method's model (encoder + its heads) under model.*, the optimizer under
//                         optimizer.*, epoch, global step, default-generator state, config and metrics in the
//                         metadata
//
// Resume (`resume = true`): the run continues in out_dir from checkpoint.safetensors at the epoch after the
// last completed one, with model, optimizer, schedule step, generator and metrics restored. Every option
// must equal the saved config except `epochs` (may be raised: the schedule is then laid out over the new
// total), `workers`, `device`, `show_progress`, `threads` (another count changes the last bits from there
// on) and, but for SimCLR, which alone reads it, `crop_min_scale`. The loader's order and
// augmentation are pure functions of (seed, epoch, index), so on the CPU with the same thread count the
// resumed losses and weights equal those of an uninterrupted run with the same `epochs`.
#pragma once

#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ssl/context_encoder.h"
#include "ssl/relative_patch.h"
#include "ssl/simclr.h"

namespace ssl {

// The most epochs a run takes (the command lines' --epochs range; epochs × steps per epoch must fit 64 bits).
inline constexpr int64_t kMaxEpochs = 1000000;

struct PretrainOptions {
  std::string method = "simclr";  // simclr, rotation, supervised, finetune, context, patch (ssl/methods.cpp)
  std::string model = "convnet2";
  std::string init;  // finetune: the pretrain or sgan output directory whose encoder.safetensors is the start
  // Not an option: the runner sets it to init's encoder_fingerprint (ssl/evaluate.h) and config.json keeps
  // it, so a run whose starting encoder has changed since is not resumed or kept as if it had not.
  std::string init_fingerprint;
  // simclr: a labelled dataset spec (e.g. the training data with a label budget, DATA@20) on which a linear
  // probe is trained jointly, on detached features, as the semi-supervised study did; empty = none.
  std::string joint_probe;
  std::string data = "synthetic:train";
  std::string out_dir = "runs/simclr";
  int64_t epochs = 10;
  int64_t batch_size = 256;
  int64_t image_size = 32;
  // Adam learns ConvNet2 far faster than SGD in the few epochs of a CPU run (on synthetic, 10 epochs: linear
  // probe 80% with Adam against 66% with SGD at lr 0.06); SGD with momentum 0.9 remains available.
  std::string optimizer = "adam";   // adam, adamw, sgd (momentum 0.9) or lars (momentum 0.9, eta 0.001)
  double lr = 1e-3;                 // peak learning rate, reached after the warm-up
  std::string schedule = "cosine";  // cosine (to 0 just after the last step), step or constant
  double weight_decay = 1e-6;
  int64_t warmup_epochs = 1;
  uint64_t seed = 0;
  int workers = 1;  // loader threads
  // Compute threads for the CPU kernels (0 = the process's count); config.json records the count used, and a
  // resumed run keeps it unless given another (ssl/resume_check.h: threads_to_resume_with).
  int threads = 0;
  std::string device = "cpu";       // where the model trains: cpu, cuda or cuda:N
  bool skip_bad_images = false;     // image folders: leave out unreadable files, with a warning
  int64_t max_steps_per_epoch = 0;  // 0 = the whole epoch (smaller values for quick tests)
  bool show_progress = true;
  bool resume = false;  // continue the run in out_dir from its checkpoint.safetensors (see above)
  // End the run after this many epochs (0 = never), as a kill after that epoch's checkpoint would: for
  // tests of resume. Not part of the config.
  int64_t stop_after_epochs = 0;
  SimCLROptions simclr;
  ContextOptions context;  // method "context": mask, overlap weight, adversarial weight
  PatchOptions patch;      // method "patch": grid (patch side, gap, jitter) and colour handling
};

struct EpochMetrics {
  int64_t epoch = 0;
  double loss = 0, images_per_s = 0, seconds = 0, lr = 0;
  // Mean training accuracy of the steps, for methods that classify (PretextMethod::last_accuracy); NaN
  // otherwise, and then left out of metrics.jsonl.
  double train_top1 = std::numeric_limits<double>::quiet_NaN();
};

// Returns the metrics of every epoch of the run, including those restored from a checkpoint.
std::vector<EpochMetrics> pretrain(const PretrainOptions& options);

// Pre-trains, or continues the run already in options.out_dir (its checkpoint; the options must agree as for
// `resume`, and it must have been planned for options.epochs: check_same_plan), or keeps that run as it is
// when it has completed them (the options must agree then too: a finished run made with other settings is
// never passed off as this one). For runners made of
// several runs (ssl compare, ssl eval --protocol finetune): one interrupted midway continues where it
// stopped.
void pretrain_or_continue(PretrainOptions options);

// config.json's content (every option that shapes the results, plus workers, device and threads), and back;
// keys absent from `j` keep their defaults. out_dir, resume and show_progress are not part of it.
nlohmann::json pretrain_options_json(const PretrainOptions& o);
PretrainOptions pretrain_options_from_json(const nlohmann::json& j);

// The options saved in DIR/checkpoint.safetensors, with out_dir = DIR and resume = true.
PretrainOptions resume_options(const std::string& dir);
// Throws ssl::Error naming `source` and every option of `o` that differs from `saved`, other than epochs,
// workers, device, threads and (but for SimCLR) crop_min_scale.
void check_resume_options(const PretrainOptions& saved, const PretrainOptions& o, const std::string& source);

}  // namespace ssl
