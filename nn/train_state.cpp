#include "nn/train_state.h"

#include <nlohmann/json.hpp>
#include <set>

#include "nn/checkpoint.h"

namespace ssl::nn {

namespace {

using json = nlohmann::json;

const std::string kModelPrefix = "model.", kOptimizerPrefix = "optimizer.";

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

const std::string& meta_at(const Metadata& meta, const std::string& path, const std::string& key) {
  auto it = meta.find(key);
  SSL_CHECK(it != meta.end(), path, ": not a training checkpoint: the metadata lacks '", key, "'");
  return it->second;
}

json parse_meta(const Metadata& meta, const std::string& path, const std::string& key) {
  try {
    return json::parse(meta_at(meta, path, key));
  } catch (const json::exception& e) {
    throw Error(str_cat(path, ": metadata '", key, "' is not valid JSON (", e.what(), ")"));
  }
}

TrainState parse_state(const Metadata& meta, const std::string& path, json* optimizer_meta) {
  const std::string& format = meta_at(meta, path, "format");
  SSL_CHECK(format == kTrainStateFormat, path, ": checkpoint format '", format, "', expected '",
            kTrainStateFormat, "'");
  TrainState s;
  try {
    s.epoch = parse_meta(meta, path, "epoch").get<int64_t>();
    s.global_step = parse_meta(meta, path, "global_step").get<int64_t>();
    const json rng = parse_meta(meta, path, "rng");
    s.rng_seed = rng.at("seed").get<uint64_t>();
    s.rng_streams_used = rng.at("streams_used").get<uint64_t>();
    if (optimizer_meta) *optimizer_meta = parse_meta(meta, path, "optimizer");
  } catch (const json::exception& e) {
    throw Error(str_cat(path, ": malformed training-checkpoint metadata (", e.what(), ")"));
  }
  SSL_CHECK(s.epoch >= 0 && s.global_step >= 0, path, ": negative epoch or step in the metadata");
  // config and metrics are the caller's JSON: check they parse, keep them as text.
  s.config_json = parse_meta(meta, path, "config").dump();
  s.metrics_json = parse_meta(meta, path, "metrics").dump();
  return s;
}

}  // namespace

void save_train_state(const std::string& path, const Module& model, const Optimizer& optimizer,
                      const TrainState& state) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& [name, t] : model.state()) tensors.emplace_back(kModelPrefix + name, t);
  const OptimizerState opt = optimizer.export_state();
  for (const auto& [name, t] : opt.tensors) tensors.emplace_back(kOptimizerPrefix + name, t);
  const json opt_meta = {{"kind", opt.kind},
                         {"steps", opt.steps},
                         {"param_count", opt.param_count},
                         {"hyper_parameters", opt.hyper_parameters}};
  const Metadata meta = {
      {"format", kTrainStateFormat},
      {"epoch", std::to_string(state.epoch)},
      {"global_step", std::to_string(state.global_step)},
      {"rng", json{{"seed", state.rng_seed}, {"streams_used", state.rng_streams_used}}.dump()},
      {"optimizer", opt_meta.dump()},
      {"config", state.config_json},
      {"metrics", state.metrics_json}};
  save_safetensors(path, tensors, meta);
}

TrainState read_train_state(const std::string& path) {
  Metadata meta;
  load_safetensors(path, &meta);
  return parse_state(meta, path, nullptr);
}

TrainState load_train_state(const std::string& path, Module& model, Optimizer& optimizer) {
  Metadata meta;
  const std::map<std::string, Tensor> stored = load_safetensors(path, &meta);
  json opt_meta;
  const TrainState s = parse_state(meta, path, &opt_meta);

  OptimizerState opt;
  try {
    opt.kind = opt_meta.at("kind").get<std::string>();
    opt.steps = opt_meta.at("steps").get<int64_t>();
    opt.param_count = opt_meta.at("param_count").get<int64_t>();
    opt.hyper_parameters = opt_meta.at("hyper_parameters").get<std::map<std::string, double>>();
  } catch (const json::exception& e) {
    throw Error(str_cat(path, ": malformed optimizer metadata (", e.what(), ")"));
  }
  for (const auto& [name, t] : stored) {
    if (starts_with(name, kOptimizerPrefix))
      opt.tensors.emplace_back(name.substr(kOptimizerPrefix.size()), t);
  }

  // Check the model's tensors before touching anything.
  std::vector<std::pair<Tensor, Tensor>> copies;  // (destination, source)
  std::set<std::string> used;
  for (const auto& [name, target] : model.state()) {
    const std::string key = kModelPrefix + name;
    auto it = stored.find(key);
    SSL_CHECK(it != stored.end(), path, ": the model expects tensor '", key,
              "' but the file does not have it");
    SSL_CHECK(it->second.shape() == target.shape() && it->second.dtype() == target.dtype(), path,
              ": tensor '", key, "' is ", dtype_name(it->second.dtype()), " ", it->second.shape(),
              " in the file but the model expects ", dtype_name(target.dtype()), " ", target.shape());
    copies.emplace_back(target, it->second);
    used.insert(key);
  }
  for (const auto& [name, t] : stored) {
    SSL_CHECK(used.count(name) || starts_with(name, kOptimizerPrefix), path, ": tensor '", name,
              "' in the file is not part of the model");
  }
  // Prefix the optimizer's tensor names back so that its errors name them as the file does.
  optimizer.import_state(opt, path + " (tensors under '" + kOptimizerPrefix + "')");
  NoGradGuard no_grad;
  for (auto& [dst, src] : copies) dst.copy_(src);
  return s;
}

}  // namespace ssl::nn
