// The pre-training runner's options as config.json holds them, those a resumed run starts from, and the check
// of a resumed run's (ssl/pretrain.h).
#include "ssl/pretrain.h"

#include <type_traits>

#include "ssl/resume_check.h"

namespace ssl {

nlohmann::json pretrain_options_json(const PretrainOptions& o) {
  nlohmann::json j = {{"method", o.method},
                      {"model", o.model},
                      {"data", o.data},
                      {"epochs", o.epochs},
                      {"batch_size", o.batch_size},
                      {"image_size", o.image_size},
                      {"optimizer", o.optimizer},
                      {"lr", o.lr},
                      {"schedule", o.schedule},
                      {"weight_decay", o.weight_decay},
                      {"warmup_epochs", o.warmup_epochs},
                      {"seed", o.seed},
                      {"workers", o.workers},
                      {"threads", o.threads},
                      {"device", o.device},
                      {"skip_bad_images", o.skip_bad_images},
                      {"init", o.init},
                      {"joint_probe", o.joint_probe},
                      {"temperature", o.simclr.temperature},
                      {"head_hidden", o.simclr.head_hidden},
                      {"head_out", o.simclr.head_out},
                      {"cross_view_only", o.simclr.cross_view_only},
                      {"crop_min_scale", o.simclr.crop_min_scale},
                      {"colour_strength", o.simclr.colour_strength},
                      {"context_mask", mask_mode_name(o.context.mask.mode)},
                      {"context_hole_fraction", o.context.mask.hole_fraction},
                      {"context_block_fraction", o.context.mask.block_fraction},
                      {"context_coverage", o.context.mask.coverage},
                      {"context_max_blocks", o.context.mask.max_blocks},
                      {"context_overlap", o.context.mask.overlap},
                      {"context_overlap_weight", o.context.overlap_weight},
                      {"context_adv_weight", o.context.adversarial_weight},
                      {"context_objective", o.context.objective},
                      {"patch_size", o.patch.patch},
                      {"patch_gap", o.patch.gap},
                      {"patch_jitter", o.patch.jitter},
                      {"patch_colour", o.patch.colour},
                      {"max_steps_per_epoch", o.max_steps_per_epoch}};
  // Only where there is one, so that runs saved before it was recorded still compare equal.
  if (!o.init_fingerprint.empty()) j["init_fingerprint"] = o.init_fingerprint;
  return j;
}

PretrainOptions pretrain_options_from_json(const nlohmann::json& j) {
  PretrainOptions o;
  const auto get = [&](const char* key, auto& field) {
    if (j.contains(key)) field = j.at(key).get<std::remove_reference_t<decltype(field)>>();
  };
  get("method", o.method);
  get("model", o.model);
  get("data", o.data);
  get("epochs", o.epochs);
  get("batch_size", o.batch_size);
  get("image_size", o.image_size);
  get("optimizer", o.optimizer);
  get("lr", o.lr);
  get("schedule", o.schedule);
  get("weight_decay", o.weight_decay);
  get("warmup_epochs", o.warmup_epochs);
  get("seed", o.seed);
  get("workers", o.workers);
  get("threads", o.threads);
  get("device", o.device);
  get("skip_bad_images", o.skip_bad_images);
  get("init", o.init);
  get("init_fingerprint", o.init_fingerprint);
  get("joint_probe", o.joint_probe);
  get("temperature", o.simclr.temperature);
  get("head_hidden", o.simclr.head_hidden);
  get("head_out", o.simclr.head_out);
  get("cross_view_only", o.simclr.cross_view_only);
  get("crop_min_scale", o.simclr.crop_min_scale);
  get("colour_strength", o.simclr.colour_strength);
  if (j.contains("context_mask"))
    o.context.mask.mode = parse_mask_mode(j.at("context_mask").get<std::string>());
  get("context_hole_fraction", o.context.mask.hole_fraction);
  get("context_block_fraction", o.context.mask.block_fraction);
  get("context_coverage", o.context.mask.coverage);
  get("context_max_blocks", o.context.mask.max_blocks);
  get("context_overlap", o.context.mask.overlap);
  get("context_overlap_weight", o.context.overlap_weight);
  get("context_adv_weight", o.context.adversarial_weight);
  // A context run saved before the objective was recorded trained the earlier one.
  if (o.method == "context") o.context.objective = kEarlierContextObjective;
  get("context_objective", o.context.objective);
  get("patch_size", o.patch.patch);
  get("patch_gap", o.patch.gap);
  get("patch_jitter", o.patch.jitter);
  get("patch_colour", o.patch.colour);
  get("max_steps_per_epoch", o.max_steps_per_epoch);
  return o;
}

PretrainOptions resume_options(const std::string& dir) {
  return options_to_resume(dir, nn::kTrainStateFormat, pretrain_options_from_json);
}

void check_resume_options(const PretrainOptions& saved, const PretrainOptions& o, const std::string& source) {
  // None of these alters the results so far (a run may move between the CPU and a GPU; another thread count
  // changes the last bits from here on, which the run says).
  std::set<std::string> may_change = {"epochs", "workers", "device", "threads"};
  // SimCLR alone reads its crops; compare gave its value to every run before it gave it to SimCLR's only.
  if (o.method != "simclr") may_change.insert("crop_min_scale");
  check_resume_agrees(pretrain_options_json(saved), pretrain_options_json(o), may_change, source);
}

}  // namespace ssl
