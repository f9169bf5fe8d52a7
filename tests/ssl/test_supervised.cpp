// The supervised references: cross-entropy on labels, unlabelled data refused, finetune starting exactly
// from the pretrained encoder.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "nn/checkpoint.h"
#include "ssl/pretrain.h"
#include "ssl/supervised.h"
#include "support/temp_dir.h"

using namespace ssl;

TEST_CASE("supervised: the loss is the cross-entropy of the head's logits; unlabelled samples are refused") {
  SupervisedClassifier model(nn::make_encoder("convnet2", 8), 3);
  data::Batch batch;
  batch.images = Tensor::normal({2, 3, 8, 8}, 0, 1);
  batch.labels = Tensor::from_vector<int64_t>({2, 0}, {2});
  batch.indices = {5, 9};
  const Tensor logits = model.forward(batch.images);
  CHECK(model.loss(batch, {}).item() == doctest::Approx(cross_entropy(logits, batch.labels).item()));
  batch.labels = Tensor::from_vector<int64_t>({2, -1}, {2});
  CHECK_THROWS_WITH_AS(model.loss(batch, {}), doctest::Contains("sample 9 is unlabelled"), ssl::Error);
}

TEST_CASE("a diverging supervised run stops with the runner's error, naming the step and the learning rate") {
  const test::TempDir temp("ssl_test_supervised_nan");
  PretrainOptions p;
  p.method = "supervised";
  p.data = "synthetic:train:300@5";
  p.out_dir = temp.path() + "/run";
  p.epochs = 2;
  p.batch_size = 16;
  p.optimizer = "sgd";
  p.lr = 1e12;
  p.show_progress = false;
  CHECK_THROWS_WITH_AS(pretrain(p), doctest::Contains("pretrain: the loss became"), ssl::Error);
}

TEST_CASE("supervised and finetune from the runner; finetune starts from the --init encoder") {
  const test::TempDir temp("ssl_test_supervised");
  const std::string& base = temp.path();
  PretrainOptions p;
  p.method = "supervised";
  p.data = "synthetic:train:300@5";  // 50 labelled images
  p.out_dir = base + "/supervised";
  p.epochs = 2;
  p.batch_size = 16;
  p.show_progress = false;
  const auto metrics = pretrain(p);
  REQUIRE(metrics.size() == 2);
  CHECK(metrics[1].loss < metrics[0].loss);

  // With lr 0 the fine-tuned encoder is exactly the one it started from.
  p.method = "finetune";
  p.init = base + "/supervised";
  p.out_dir = base + "/finetune";
  p.lr = 0;
  p.epochs = 1;
  pretrain(p);
  const auto before = nn::load_safetensors(base + "/supervised/encoder.safetensors");
  const auto after = nn::load_safetensors(base + "/finetune/encoder.safetensors");
  REQUIRE(before.size() == after.size());
  for (const auto& [name, t] : before) {
    CAPTURE(name);
    CHECK(after.at(name).to_vector<float>() == t.to_vector<float>());
  }

  p.init.clear();
  CHECK_THROWS_WITH_AS(pretrain(p), doctest::Contains("finetune needs --init"), ssl::Error);
  p.init = base;  // a directory without an encoder
  CHECK_THROWS_WITH_AS(pretrain(p),
                       doctest::Contains("expected a pretrain or sgan output directory holding encoder"),
                       ssl::Error);
  p.init.clear();
  p.method = "supervised";
  p.data = "synthetic:train:300@5,rest";  // the unlabelled pool
  CHECK_THROWS_WITH_AS(pretrain(p), doctest::Contains("unlabelled"), ssl::Error);
}

TEST_CASE("a last batch of one image is dropped: batch norm on 1 x 1 maps could not train on it") {
  // MobileNet at 16 px ends in 1 x 1 maps; 17 images in batches of 16 would leave one image for a second
  // step, and batch norm a single value per channel.
  const test::TempDir temp("ssl_test_supervised_last_batch");
  PretrainOptions p;
  p.method = "supervised";
  p.model = "mobilenet_v1:0.25";
  p.image_size = 16;
  p.data = "synthetic:train:17";
  p.out_dir = temp.path() + "/run";
  p.epochs = 1;
  p.batch_size = 16;
  p.show_progress = false;
  CHECK(pretrain(p).size() == 1);
  std::ifstream config(p.out_dir + "/config.json");
  CHECK(nlohmann::json::parse(config).at("data_counts").at("steps_per_epoch") == 1);
}
