// The supervised references of the semi-supervised study: an encoder and a linear head trained with
// cross-entropy on labelled images only ("supervised", from a fresh encoder), or starting from a pretrained
// encoder ("finetune", the encoder of --init DIR, every weight trained). The same light augmentation as
// rotation prediction (random resized crop, flip). Unlabelled images in the data are an error: give a
// labelled split or a label budget (SPEC@N). The runner saves the trained classifier as
// classifier.safetensors (metadata model, image_size, classes); classifier_accuracy evaluates it.
#pragma once

#include "ssl/method.h"

namespace ssl {

class SupervisedClassifier : public PretextMethod {
 public:
  SupervisedClassifier(nn::EncoderPtr encoder, int64_t classes);
  // Logits [N, classes] of images [N, C, S, S].
  Tensor forward(const Tensor& images) override;
  Tensor loss(const data::Batch& batch, const StepContext& context) override;

  std::shared_ptr<nn::Linear> head;
};

struct TopK;

// The classifier saved in run_dir (classifier.safetensors) by a supervised or finetune run, in evaluation
// mode. Throws ssl::Error naming the file when it is missing or lacks its metadata.
std::shared_ptr<SupervisedClassifier> load_classifier(const std::string& run_dir);

// Top-1/Top-5 of the classifier saved in run_dir (classifier.safetensors) on a labelled dataset whose classes
// are the training data's, the model in evaluation mode. Images of another size are resized to its input.
// The encoder runs on `device`, the linear head on the features back on the host.
TopK classifier_accuracy(const std::string& run_dir, const data::Dataset& data, int workers = 1,
                         bool show_progress = false, Device device = Device::cpu());

// The same for a SimCLR run trained with --joint-probe: its encoder.safetensors and probe.safetensors.
TopK joint_probe_accuracy(const std::string& run_dir, const data::Dataset& data, int workers = 1,
                          bool show_progress = false, Device device = Device::cpu());

}  // namespace ssl
