// The SGAN runner's options as config.json holds them, those a resumed run starts from, and the check of a
// resumed run's (ssl/sgan.h).
#include "ssl/sgan.h"

#include <type_traits>

#include "ssl/resume_check.h"

namespace ssl {

using json = nlohmann::json;

json sgan_options_json(const SganOptions& o) {
  json j = {{"method", "sgan"},
            {"labelled", o.labelled},
            {"unlabelled", o.unlabelled},
            {"test", o.test},
            {"image_size", o.image_size},
            {"epochs", o.epochs},
            {"batch_size", o.batch_size},
            {"latent", o.latent},
            {"lr", o.lr},
            {"beta1", o.beta1},
            {"feature_matching", o.feature_matching},
            {"fake_logit", o.fake_logit},
            {"unsupervised_weight", o.unsupervised_weight},
            {"ema_decay", o.ema_decay},
            {"init_discriminator", o.init_discriminator},
            {"seed", o.seed},
            {"workers", o.workers},
            {"threads", o.threads},
            {"device", o.device},
            {"skip_bad_images", o.skip_bad_images},
            {"sample_every", o.sample_every},
            {"max_steps_per_epoch", o.max_steps_per_epoch}};
  if (!o.init_fingerprint.empty()) j["init_fingerprint"] = o.init_fingerprint;  // as pretrain_options_json
  return j;
}

SganOptions sgan_options_from_json(const json& j) {
  SganOptions o;
  const auto get = [&](const char* key, auto& field) {
    if (j.contains(key)) field = j.at(key).get<std::remove_reference_t<decltype(field)>>();
  };
  get("labelled", o.labelled);
  get("unlabelled", o.unlabelled);
  get("test", o.test);
  get("image_size", o.image_size);
  get("epochs", o.epochs);
  get("batch_size", o.batch_size);
  get("latent", o.latent);
  get("lr", o.lr);
  get("beta1", o.beta1);
  get("feature_matching", o.feature_matching);
  get("fake_logit", o.fake_logit);
  o.unsupervised_weight = j.value("unsupervised_weight", 1.0);  // runs saved before it existed weighed 1
  o.ema_decay = j.value("ema_decay", 0.0);  // runs saved before averaging existed had none
  get("init_discriminator", o.init_discriminator);
  get("init_fingerprint", o.init_fingerprint);
  get("seed", o.seed);
  get("workers", o.workers);
  get("threads", o.threads);
  get("device", o.device);
  get("skip_bad_images", o.skip_bad_images);
  get("sample_every", o.sample_every);
  get("max_steps_per_epoch", o.max_steps_per_epoch);  // runs saved before it existed took whole epochs
  return o;
}

SganOptions sgan_resume_options(const std::string& dir) {
  return options_to_resume(dir, nn::kSganTrainStateFormat, sgan_options_from_json);
}

void check_sgan_resume_options(const SganOptions& saved, const SganOptions& o, const std::string& source) {
  // None of these alters the results of the epochs so far or to come (a run may move between the CPU and a
  // GPU; another thread count changes the last bits from here on, which the run says).
  check_resume_agrees(sgan_options_json(saved), sgan_options_json(o),
                      {"epochs", "workers", "device", "sample_every", "threads"}, source);
}

}  // namespace ssl
