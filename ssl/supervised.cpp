#include "ssl/supervised.h"

#include <cmath>
#include <filesystem>

#include "nn/checkpoint.h"
#include "ssl/evaluate.h"
#include "ssl/features.h"
#include "ssl/linear_probe.h"

namespace ssl {

SupervisedClassifier::SupervisedClassifier(nn::EncoderPtr enc, int64_t classes) {
  SSL_CHECK(classes >= 2, "supervised: need a labelled dataset with at least 2 classes, got ", classes);
  encoder = register_module("encoder", std::move(enc));
  head = register_module("head", std::make_shared<nn::Linear>(encoder->feature_dim, classes));
}

Tensor SupervisedClassifier::forward(const Tensor& images) { return head->forward(encoder->forward(images)); }

Tensor SupervisedClassifier::loss(const data::Batch& batch, const StepContext&) {
  const std::vector<int64_t> labels = batch.labels.to_vector<int64_t>();
  for (size_t i = 0; i < labels.size(); ++i) {
    SSL_CHECK(labels[i] >= 0, "supervised: sample ", batch.indices[i],
              " is unlabelled; train on a labelled split or a label budget (SPEC@N)");
  }
  return classification_loss(forward(batch.images), batch.labels);
}

std::shared_ptr<SupervisedClassifier> load_classifier(const std::string& run_dir) {
  const std::string path = run_dir + "/classifier.safetensors";
  SSL_CHECK(std::filesystem::exists(path), "expected a supervised or finetune run's classifier in ", run_dir,
            "; '", path, "' does not exist");
  const nn::Metadata meta = nn::read_safetensors_metadata(path);
  SSL_CHECK(meta.count("model") && meta.count("image_size") && meta.count("classes"), path,
            ": metadata lacks model, image_size or classes; expected a supervised or finetune run");
  auto model = std::make_shared<SupervisedClassifier>(
      encoder_named_in(path, meta.at("model"), nn::metadata_integer(meta, "image_size", path)),
      nn::metadata_integer(meta, "classes", path));
  nn::load_module(path, *model);
  model->eval();
  return model;
}

TopK classifier_accuracy(const std::string& run_dir, const data::Dataset& data, int workers,
                         bool show_progress, Device device) {
  const std::shared_ptr<SupervisedClassifier> model = load_classifier(run_dir);
  SSL_CHECK(data.num_classes() == model->head->weight.size(0), "classifier in ", run_dir, " has ",
            model->head->weight.size(0), " classes, but ", data.name(), " has ", data.num_classes());
  model->encoder->to(device);
  const Features f = compute_features(*model->encoder, data, 512, workers, show_progress);
  NoGradGuard no_grad;
  return topk_accuracy(model->head->forward(f.x), f.labels);
}

TopK joint_probe_accuracy(const std::string& run_dir, const data::Dataset& data, int workers,
                          bool show_progress, Device device) {
  const std::string path = run_dir + "/probe.safetensors";
  const nn::Metadata meta = nn::read_safetensors_metadata(path);
  SSL_CHECK(meta.count("classes"), path,
            ": metadata lacks classes; expected a SimCLR run with --joint-probe");
  nn::EncoderPtr encoder = load_encoder(run_dir);
  nn::Linear probe(encoder->feature_dim, nn::metadata_integer(meta, "classes", path));
  nn::load_module(path, probe);
  SSL_CHECK(data.num_classes() == probe.weight.size(0), "joint probe in ", run_dir, " has ",
            probe.weight.size(0), " classes, but ", data.name(), " has ", data.num_classes());
  encoder->to(device);
  const Features f = compute_features(*encoder, data, 512, workers, show_progress);
  NoGradGuard no_grad;
  return topk_accuracy(probe.forward(f.x), f.labels);
}

}  // namespace ssl
