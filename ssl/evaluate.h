// The evaluation runner: an encoder (trained, or `random:MODEL` for the untrained baseline every table
// needs), features of each split computed once, a linear probe fitted on the training split, Top-1 and
// Top-5 on every split, written to results.json.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "nn/models.h"
#include "ssl/linear_probe.h"

namespace ssl {

// "DIR" (a pretrain output directory with encoder.safetensors) or "random:MODEL" (seeded initialisation).
nn::EncoderPtr load_encoder(const std::string& spec, uint64_t seed = 0, int64_t image_size = 32);

struct EvalOptions {
  std::string encoder;
  std::string protocol = "linear";
  std::string train = "synthetic:train";
  std::string test = "synthetic:test";
  std::string out_dir;  // empty: do not write results.json
  int64_t image_size = 32;
  uint64_t seed = 0;
  int workers = 1;
  bool show_progress = true;
  LinearProbeOptions probe;
};

// Returns {"protocol": "linear", "encoder": ..., "splits": {"train": {"top1", "top5"}, "test": {...}}}.
nlohmann::json evaluate(const EvalOptions& options);

}  // namespace ssl
