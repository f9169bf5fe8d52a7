#include "ssl/evaluate.h"

#include <filesystem>

#include "data/registry.h"
#include "nn/checkpoint.h"
#include "ssl/features.h"

namespace ssl {

nn::EncoderPtr load_encoder(const std::string& spec, uint64_t seed, int64_t image_size) {
  if (spec.rfind("random:", 0) == 0) {
    manual_seed(seed);
    return nn::make_encoder(spec.substr(7), image_size);
  }
  const std::string path = spec + "/encoder.safetensors";
  SSL_CHECK(std::filesystem::exists(path), "encoder '", spec,
            "': expected a pretrain output directory containing ", "encoder.safetensors, or random:MODEL; '",
            path, "' does not exist");
  nn::Metadata meta;
  nn::load_safetensors(path, &meta);  // reads the metadata (and validates the file) before building the model
  SSL_CHECK(meta.count("model") && meta.count("image_size"), path,
            ": metadata lacks 'model' or 'image_size'");
  nn::EncoderPtr encoder = nn::make_encoder(meta["model"], std::stoll(meta["image_size"]));
  nn::load_module(path, *encoder);
  return encoder;
}

nlohmann::json evaluate(const EvalOptions& o) {
  SSL_CHECK(o.protocol == "linear", "eval: unknown protocol '", o.protocol, "'; available: linear");
  nn::EncoderPtr encoder = load_encoder(o.encoder, o.seed, o.image_size);
  const auto train_set = data::open_dataset(o.train);
  const auto test_set = data::open_dataset(o.test);
  SSL_CHECK(train_set->num_classes() == test_set->num_classes(), "eval: ", train_set->name(), " has ",
            train_set->num_classes(), " classes but ", test_set->name(), " has ", test_set->num_classes());
  const Features train = compute_features(*encoder, *train_set, 512, o.workers, o.show_progress);
  const Features test = compute_features(*encoder, *test_set, 512, o.workers, o.show_progress);
  LinearProbeOptions probe = o.probe;
  probe.seed = o.seed;
  probe.show_progress = o.show_progress;
  const LinearProbe classifier(train.x, train.labels, train_set->num_classes(), probe);
  const TopK tr = classifier.evaluate(train.x, train.labels), te = classifier.evaluate(test.x, test.labels);
  nlohmann::json result = {{"protocol", o.protocol},
                           {"encoder", o.encoder},
                           {"feature_dim", encoder->feature_dim},
                           {"splits",
                            {{"train", {{"top1", tr.top1}, {"top5", tr.top5}, {"data", o.train}}},
                             {"test", {{"top1", te.top1}, {"top5", te.top5}, {"data", o.test}}}}}};
  if (!o.out_dir.empty()) {
    std::filesystem::create_directories(o.out_dir);
    nn::write_file_atomically(o.out_dir + "/results.json", result.dump(2) + "\n");
  }
  return result;
}

}  // namespace ssl
