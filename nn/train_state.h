// Training checkpoints: everything needed to continue a run exactly where it stopped, in one safetensors
// file (written atomically, validated on load like every checkpoint).
//
// Layout:
//   model.<name>                  every parameter and buffer of the model, <name> its state_dict name
//   optimizer.state.<i>.<slot>    the optimizer's state tensors (see nn::OptimizerState); with several
//                                 optimizers, optimizer.<name>.state.<i>.<slot> (see NamedOptimizer)
//   __metadata__                  string values, JSON where structured:
//     format        "ssl.train_state.v1" (ssl pretrain), "ssl.sgan_train_state.v1" (ssl sgan)
//     epoch         epochs completed
//     global_step   optimizer steps over the whole run (what the learning-rate schedule reads)
//     rng           {"seed": S, "streams_used": N}: the default generator after the epoch
//     optimizer     {"kind", "steps", "param_count", "hyper_parameters": {...}} (optimizer.<name> each)
//     config        the run's options (the caller's JSON, e.g. config.json)
//     metrics       the per-epoch metrics so far (the caller's JSON)
#pragma once

#include <string>
#include <vector>

#include "nn/module.h"
#include "nn/optim.h"

namespace ssl::nn {

struct TrainState {
  int64_t epoch = 0;        // epochs completed
  int64_t global_step = 0;  // optimizer steps taken over the run
  uint64_t rng_seed = 0;    // the default generator's state (Generator::set_state restores it)
  uint64_t rng_streams_used = 0;
  std::string config_json = "{}";
  std::string metrics_json = "[]";
};

// The formats of the two kinds of run (see the layout above).
inline constexpr const char* kTrainStateFormat = "ssl.train_state.v1";
inline constexpr const char* kSganTrainStateFormat = "ssl.sgan_train_state.v1";

// One of a run's optimizers and the name its state is stored under. A run with one optimizer names it ""
// (tensors optimizer.<tensor>, metadata key "optimizer"); a run with several names each, e.g. the SGAN's
// "generator" (tensors optimizer.generator.<tensor>, metadata key "optimizer.generator").
struct NamedOptimizer {
  std::string name;
  Optimizer* optimizer = nullptr;
};

// Writes model, optimizers and `state` to `path` atomically; `format` tells one kind of run's checkpoints
// from another's.
void save_train_state(const std::string& path, const Module& model,
                      const std::vector<NamedOptimizer>& optimizers, const TrainState& state,
                      const std::string& format = kTrainStateFormat);

// The metadata of a training checkpoint, without restoring anything (e.g. to read the config before
// building the model). Only the header is read, validated against the file's size (a truncated file is
// refused). Throws ssl::Error naming the file.
TrainState read_train_state(const std::string& path, const std::string& format = kTrainStateFormat);

// Restores `model` and `optimizers` from `path` and returns the metadata. Every model tensor must be present
// with its shape and dtype, each optimizer's state must match it (kind, parameter count, tensors), and no
// tensor may be left over; errors name the file and the tensor, and leave model and optimizers as they were.
TrainState load_train_state(const std::string& path, Module& model,
                            const std::vector<NamedOptimizer>& optimizers,
                            const std::string& format = kTrainStateFormat);

// The same for a run with one optimizer.
inline void save_train_state(const std::string& path, const Module& model, Optimizer& optimizer,
                             const TrainState& state) {
  save_train_state(path, model, {{"", &optimizer}}, state);
}
inline TrainState load_train_state(const std::string& path, Module& model, Optimizer& optimizer) {
  return load_train_state(path, model, {{"", &optimizer}});
}

}  // namespace ssl::nn
