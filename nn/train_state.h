// Training checkpoints: everything needed to continue a run exactly where it stopped, in one safetensors
// file (written atomically, validated on load like every checkpoint).
//
// Layout:
//   model.<name>                  every parameter and buffer of the model, <name> its state_dict name
//   optimizer.state.<i>.<slot>    the optimizer's state tensors (see nn::OptimizerState)
//   __metadata__                  string values, JSON where structured:
//     format        "ssl.train_state.v1"
//     epoch         epochs completed
//     global_step   optimizer steps over the whole run (what the learning-rate schedule reads)
//     rng           {"seed": S, "streams_used": N}: the default generator after the epoch
//     optimizer     {"kind", "steps", "param_count", "hyper_parameters": {...}}
//     config        the run's options (the caller's JSON, e.g. config.json)
//     metrics       the per-epoch metrics so far (the caller's JSON)
#pragma once

#include <string>

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

inline constexpr const char* kTrainStateFormat = "ssl.train_state.v1";

// Writes model, optimizer and `state` to `path` atomically.
void save_train_state(const std::string& path, const Module& model, const Optimizer& optimizer,
                      const TrainState& state);

// The metadata of a training checkpoint, without restoring anything (e.g. to read the config before
// building the model). The whole file is validated. Throws ssl::Error naming the file.
TrainState read_train_state(const std::string& path);

// Restores `model` and `optimizer` from `path` and returns the metadata. Every model tensor must be present
// with its shape and dtype, the optimizer state must match the optimizer (kind, parameter count, tensors),
// and no tensor may be left over; errors name the file and the tensor, and leave model and optimizer as
// they were.
TrainState load_train_state(const std::string& path, Module& model, Optimizer& optimizer);

}  // namespace ssl::nn
