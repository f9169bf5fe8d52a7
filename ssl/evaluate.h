// The evaluation runner: an encoder (trained, or `random:MODEL` for the untrained baseline every table
// needs), features of each split computed once, a linear probe fitted on (or a kNN classifier holding) the
// training split, Top-1 and Top-5 on every split, written to results.json. The "finetune" protocol instead
// trains the whole encoder with a linear head on the training split (the finetune method of ssl/pretrain.h,
// ssl/supervised.h) and scores every split with that classifier.
//
// A split whose classes are not the training split's (a transfer set: a probe trained on CIFAR-10 tested on
// STL-10) is matched to them by name (data/class_mapping.h): its images of classes without a counterpart
// are left out, the probe's scores for training classes without a counterpart are ignored (so Top-1 and
// Top-5 are over the shared classes), and the result names the classes left out on each side.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "data/dataset.h"
#include "nn/checkpoint.h"
#include "nn/models.h"
#include "ssl/knn.h"
#include "ssl/linear_probe.h"

namespace ssl {

// The metadata of DIR/encoder.safetensors (the header validated against the file), which names the encoder's
// model and input size; refused, saying what a pretrain or sgan output directory holds, when the file is not
// there.
nn::Metadata encoder_metadata(const std::string& dir);

// The network a weights file at `path` holds, as its metadata names it (`model` at `image_size` px), built
// untrained; an error that names the file when the metadata names none that can be built.
nn::EncoderPtr encoder_named_in(const std::string& path, const std::string& model, int64_t image_size);

// The fingerprint (nn::file_fingerprint) of DIR/encoder.safetensors for a pretrain or sgan output directory;
// empty for "" and "random:MODEL", and when the file is missing (loading it then says so). A run that starts
// from an encoder records it, so that a kept run is not passed off as starting from an encoder that has
// changed.
std::string encoder_fingerprint(const std::string& spec);

// Whether an encoder spec names the untrained baseline, "random:MODEL", and that MODEL ("" for a DIR).
bool is_random_encoder(const std::string& spec);
std::string random_encoder_model(const std::string& spec);

// "DIR" (a pretrain or sgan output directory with encoder.safetensors) or "random:MODEL" (seeded
// initialisation). input_size > 0 builds a trained encoder for that input size instead of the one it was
// trained at, with the same weights (e.g. the patch task's encoder, trained on patches, applied to whole
// images); throws when its weights depend on the size.
nn::EncoderPtr load_encoder(const std::string& spec, uint64_t seed = 0, int64_t image_size = 32,
                            int64_t input_size = 0);

// Protocol "finetune": the training run (ssl/pretrain.h, Adam with a cosine schedule after one warm-up
// epoch, the light crop-and-flip augmentation of ssl/supervised.h).
struct FinetuneOptions {
  int64_t epochs = 10;
  int64_t batch_size = 64;
  double lr = 1e-3;
  double weight_decay = 1e-6;
};

struct EvalOptions {
  std::string encoder;
  std::string protocol = "linear";
  std::string train = "synthetic:train";
  std::string test = "synthetic:test";
  std::string transfer;  // optional: another dataset, evaluated with the same probe
  std::string out_dir;   // empty: do not write results.json (finetune: train in a temporary directory)
  int64_t image_size = 32;
  int64_t input_size = 0;  // > 0: run a trained encoder at this input size (load_encoder)
  uint64_t seed = 0;
  int workers = 1;
  int threads = 0;  // compute threads of a fine-tuning run, as PretrainOptions::threads
  // Where the encoder runs (and fine-tuning trains): cpu, cuda or cuda:N. The features come back to the
  // host, where the probe or kNN is fitted (they are small).
  std::string device = "cpu";
  bool show_progress = true;
  bool skip_bad_images = false;  // image folders: leave out unreadable files, with a warning
  int64_t labels_per_class = 0;  // > 0: fit the probe on this many labelled images per class of `train`
  // linear and knn: the encoder layer the features are read at (nn::Encoder::layer_names): a name, empty for
  // the last (forward's output), or "best": the one whose features score the best Top-1 on a held-out fifth
  // of the training split when the classifier is fitted on the rest (never on the test split).
  std::string layer;
  LinearProbeOptions probe;  // protocol "linear"
  KnnOptions knn;            // protocol "knn"
  FinetuneOptions finetune;  // protocol "finetune"
};

// protocol "linear" (a logistic-regression probe on the training split's features), "knn" (ssl/knn.h; the
// training split's own Top-1/Top-5 are leave-one-out) or "finetune" (encoder and linear head trained on the
// training split from the encoder's weights, or from scratch for random:MODEL, which is then the supervised
// baseline; the run goes in out_dir/finetune, where a rerun continues or keeps it; the training split's
// Top-1/Top-5 are those of the trained classifier on its unaugmented images). Returns {"protocol": ...,
// "encoder": ..., "feature_dim": the features' width, "splits": {"train": {"top1", "top5", "data",
// "images"}, "test": {...}[, "transfer":
// {...}]}}; a split matched by class name adds "classes_matched" and "classes_left_out": {"train": [...],
// "split": [...]}; "finetune" adds "finetune": {"run", "method", "epochs", "batch_size", "lr",
// "weight_decay"}; "knn" adds "knn": {"k": the neighbours that voted on the other splits, at most the
// training split's size, "temperature"[, "k_requested" when that capped it]}. Linear and knn add
// "layer" (the name read) and, for "best", "layer_selection": {"held_out": images, "top1": {layer: held-out
// Top-1, ...}}.
nlohmann::json evaluate(const EvalOptions& options);

// Whether some class of `set` has two labelled images: what --layer best needs to hold a fifth of a class out
// (every class of two or more gives one image to the held-out part).
bool has_a_class_of_two(const data::Dataset& set);

// Refuses, naming `role` ("the training split", "--test") and `spec`, a split an evaluation cannot use: one
// with an unlabelled image (a SPEC@N,rest part, STL-10's unlabeled split) or, given the training split
// `train`, one that shares no class name with it. evaluate() (and compare) call it on every split before any
// training or feature pass.
void check_evaluation_split(const data::Dataset& split, const std::string& spec, const std::string& role,
                            const data::Dataset* train = nullptr);

}  // namespace ssl
