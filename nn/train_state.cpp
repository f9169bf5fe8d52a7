#include "nn/train_state.h"

#include <nlohmann/json.hpp>
#include <set>

#include "nn/checkpoint.h"
#include "nn/json_bounded.h"

namespace ssl::nn {

namespace {

using json = nlohmann::json;

const std::string kModelPrefix = "model.";

// Each optimizer present, under a name of its own; an unnamed one ("optimizer") alone, since its key is the
// prefix of every named one's ("optimizer.NAME").
void check_optimizers(const std::vector<NamedOptimizer>& optimizers, const char* who) {
  std::set<std::string> names;
  for (const NamedOptimizer& o : optimizers) {
    SSL_CHECK(o.optimizer != nullptr, who, ": optimizer '", o.name, "' is null");
    SSL_CHECK(names.insert(o.name).second, who, ": two optimizers are named '", o.name, "'");
    SSL_CHECK(!o.name.empty() || optimizers.size() == 1, who,
              ": an unnamed optimizer must be the only one; name each of several");
  }
}

// Where an optimizer's metadata is kept; its tensors are under the same name and a dot.
std::string optimizer_key(const NamedOptimizer& o) {
  return o.name.empty() ? "optimizer" : "optimizer." + o.name;
}

const std::string& meta_at(const Metadata& meta, const std::string& path, const std::string& key) {
  auto it = meta.find(key);
  SSL_CHECK(it != meta.end(), path, ": not a training checkpoint: the metadata lacks '", key, "'");
  return it->second;
}

json parse_meta(const Metadata& meta, const std::string& path, const std::string& key) {
  try {
    return parse_json_bounded(meta_at(meta, path, key), str_cat(path, ": metadata '", key, "'"));
  } catch (const json::exception& e) {
    throw Error(str_cat(path, ": metadata '", key, "' is not valid JSON (", printable(e.what()), ")"));
  }
}

// A format with the command that writes it, so that a checkpoint handed to the other command says whose it
// is.
std::string describe_format(const std::string& format) {
  if (format == kTrainStateFormat) return str_cat("'", format, "' (ssl pretrain)");
  if (format == kSganTrainStateFormat) return str_cat("'", format, "' (ssl sgan)");
  return str_cat("'", format, "'");
}

// A count stored in the metadata: a whole number from 0 up (to 2^63 - 1 when `signed_range`). JSON's
// numbers would otherwise be cast: 2.7 read as 2, -1 as 2^64 - 1, 1e30 as whatever the cast gives.
uint64_t whole_number(const json& value, const std::string& path, const std::string& what,
                      bool signed_range = true) {
  SSL_CHECK(value.is_number_unsigned() && (!signed_range || value.get<uint64_t>() <= uint64_t(INT64_MAX)),
            path, ": ", what, " in the metadata is ", value.dump(), "; expected a whole number from 0 to ",
            signed_range ? "2^63 - 1" : "2^64 - 1");
  return value.get<uint64_t>();
}

TrainState parse_state(const Metadata& meta, const std::string& path, const std::string& format) {
  const std::string& found = meta_at(meta, path, "format");
  SSL_CHECK(found == format, path, ": checkpoint format ", describe_format(found), ", expected ",
            describe_format(format));
  TrainState s;
  try {
    s.epoch = int64_t(whole_number(parse_meta(meta, path, "epoch"), path, "epoch"));
    s.global_step = int64_t(whole_number(parse_meta(meta, path, "global_step"), path, "global_step"));
    const json rng = parse_meta(meta, path, "rng");
    s.rng_seed = whole_number(rng.at("seed"), path, "rng seed", /*signed_range=*/false);
    s.rng_streams_used = whole_number(rng.at("streams_used"), path, "rng streams_used", false);
  } catch (const json::exception& e) {
    throw Error(str_cat(path, ": malformed training-checkpoint metadata (", e.what(), ")"));
  }
  // config and metrics are the caller's JSON: check they parse, keep them as text.
  s.config_json = parse_meta(meta, path, "config").dump();
  s.metrics_json = parse_meta(meta, path, "metrics").dump();
  return s;
}

// One optimizer's stored state: its metadata and the tensors under its key.
OptimizerState parse_optimizer_state(const Metadata& meta, const std::map<std::string, Tensor>& stored,
                                     const std::string& path, const std::string& key) {
  const json m = parse_meta(meta, path, key);
  OptimizerState opt;
  try {
    opt.kind = m.at("kind").get<std::string>();
    opt.steps = int64_t(whole_number(m.at("steps"), path, key + " steps"));
    opt.param_count = int64_t(whole_number(m.at("param_count"), path, key + " param_count"));
    opt.hyper_parameters = m.at("hyper_parameters").get<std::map<std::string, double>>();
  } catch (const json::exception& e) {
    throw Error(str_cat(path, ": malformed metadata '", key, "' (", e.what(), ")"));
  }
  const std::string prefix = key + ".";
  for (const auto& [name, t] : stored)
    if (name.starts_with(prefix)) opt.tensors.emplace_back(name.substr(prefix.size()), t);
  return opt;
}

}  // namespace

void save_train_state(const std::string& path, const Module& model,
                      const std::vector<NamedOptimizer>& optimizers, const TrainState& state,
                      const std::string& format) {
  check_optimizers(optimizers, "save_train_state");
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& [name, t] : model.state()) tensors.emplace_back(kModelPrefix + name, t);
  Metadata meta = {{"format", format},
                   {"epoch", std::to_string(state.epoch)},
                   {"global_step", std::to_string(state.global_step)},
                   {"rng", json{{"seed", state.rng_seed}, {"streams_used", state.rng_streams_used}}.dump()},
                   {"config", state.config_json},
                   {"metrics", state.metrics_json}};
  for (const NamedOptimizer& o : optimizers) {
    const std::string key = optimizer_key(o);
    const OptimizerState opt = o.optimizer->export_state();
    for (const auto& [name, t] : opt.tensors) tensors.emplace_back(key + "." + name, t);
    meta[key] = json{{"kind", opt.kind},
                     {"steps", opt.steps},
                     {"param_count", opt.param_count},
                     {"hyper_parameters", opt.hyper_parameters}}
                    .dump();
  }
  save_safetensors(path, tensors, meta);
}

TrainState read_train_state(const std::string& path, const std::string& format) {
  return parse_state(read_safetensors_metadata(path), path, format);
}

TrainState load_train_state(const std::string& path, Module& model,
                            const std::vector<NamedOptimizer>& optimizers, const std::string& format) {
  check_optimizers(optimizers, "load_train_state");
  Metadata meta;
  const std::map<std::string, Tensor> stored = load_safetensors(path, &meta);
  const TrainState s = parse_state(meta, path, format);
  // A run saved after it had diverged (before each epoch's state was checked) would train on from there.
  for (const auto& [name, t] : stored)
    SSL_CHECK(first_non_finite(t) < 0, path, ": tensor '", name,
              "' holds a NaN or an infinity: the run had diverged when this checkpoint was saved; start it "
              "again, with a lower --lr");
  std::vector<OptimizerState> states;
  for (const NamedOptimizer& o : optimizers)
    states.push_back(parse_optimizer_state(meta, stored, path, optimizer_key(o)));

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
  for (size_t k = 0; k < optimizers.size(); ++k)
    for (const auto& [name, t] : states[k].tensors) used.insert(optimizer_key(optimizers[k]) + "." + name);
  for (const auto& [name, t] : stored)
    SSL_CHECK(used.count(name), path, ": tensor '", name,
              "' in the file belongs to neither the model nor an optimizer");

  // import_state checks before it changes anything; when one refuses, the ones before it are put back.
  std::vector<OptimizerState> backups;
  try {
    for (size_t k = 0; k < optimizers.size(); ++k) {
      backups.push_back(optimizers[k].optimizer->export_state());
      // Errors name the file and the key the tensors stand under in it (the names they give are stripped of
      // it).
      optimizers[k].optimizer->import_state(
          states[k], str_cat(path, " (tensors under '", optimizer_key(optimizers[k]), ".')"));
    }
  } catch (...) {
    for (size_t k = 0; k + 1 < backups.size(); ++k) optimizers[k].optimizer->import_state(backups[k]);
    throw;
  }
  NoGradGuard no_grad;
  for (auto& [dst, src] : copies) dst.copy_(src);
  return s;
}

}  // namespace ssl::nn
