// SimCLR's pieces: the loss on hand-made embeddings, the schedule, top-k, and option errors.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "nn/checkpoint.h"
#include "ssl/evaluate.h"
#include "ssl/pretrain.h"
#include "support/temp_dir.h"

using namespace ssl;

TEST_CASE("NT-Xent on hand-made embeddings, through the SimCLR loss") {
  // Two images, two views each, in 2-D: views of one image coincide, the two images are orthogonal.
  // Anchor 0 = (1,0): others are (0,1) [s=0], (1,0) [s=1/τ, positive], (0,1) [s=0].
  const double tau = 0.5;
  Tensor z = Tensor::from_vector<double>({1, 0, 0, 1, 1, 0, 0, 1}, {4, 2});
  const double expected = std::log(2 + std::exp(1 / tau)) - 1 / tau;  // the same for every anchor
  CHECK(ntxent(z, tau).item() == doctest::Approx(expected).epsilon(1e-12));
}

TEST_CASE("top-k accuracy counts ranks") {
  Tensor scores = Tensor::from_vector<float>({0.1f, 0.9f, 0.0f, 0.5f, 0.2f, 0.3f}, {2, 3});
  TopK k = topk_accuracy(scores, Tensor::from_vector<int64_t>({1, 2}, {2}));
  CHECK(k.top1 == 0.5);  // row 0 right, row 1 ranks class 2 second
  CHECK(k.top5 == 1.0);
}

TEST_CASE("bad options give clear errors") {
  PretrainOptions p;
  p.method = "byol";
  CHECK_THROWS_WITH_AS(
      pretrain(p),
      doctest::Contains("unknown method 'byol'; available: simclr, rotation, supervised, finetune, "
                        "context, patch, sgan"),
      ssl::Error);
  p.method = "sgan";  // a method of the command line's, with a runner of its own
  CHECK_THROWS_WITH_AS(pretrain(p), doctest::Contains("the SGAN trains with train_sgan"), ssl::Error);
  EvalOptions e;
  e.encoder = "/nonexistent/run";
  CHECK_THROWS_WITH_AS(evaluate(e), doctest::Contains("encoder.safetensors"), ssl::Error);
}

TEST_CASE("a tiny pretrain → eval run writes its checkpoint, metrics and results.json") {
  // The whole pipeline (loader threads, augmentation, SimCLR step, checkpoint, features, probe) at toy size,
  // so that the sanitizer build runs it too.
  const test::TempDir temp("ssl_test_tiny_run");
  const std::string& dir = temp.path();
  PretrainOptions p;
  p.data = "synthetic:train:64";
  p.out_dir = dir;
  p.epochs = 2;
  p.batch_size = 16;
  p.workers = 2;
  p.max_steps_per_epoch = 2;
  p.show_progress = false;
  const auto metrics = pretrain(p);
  REQUIRE(metrics.size() == 2);
  CHECK(std::isfinite(metrics[1].loss));
  CHECK(metrics[1].loss > 0);
  for (const char* f : {"encoder.safetensors", "config.json", "metrics.jsonl", "metrics.csv"})
    CHECK_MESSAGE(std::filesystem::exists(dir + "/" + f), f);

  EvalOptions e;
  e.encoder = dir;
  e.train = "synthetic:train:64";
  e.test = "synthetic:test:32";
  e.out_dir = dir + "/eval";
  e.probe.epochs = 2;
  e.show_progress = false;
  evaluate(e);
  std::ifstream in(dir + "/eval/results.json");
  const nlohmann::json r = nlohmann::json::parse(in);
  CHECK(r["protocol"] == "linear");
  for (const char* split : {"train", "test"}) {
    const double top1 = r["splits"][split]["top1"], top5 = r["splits"][split]["top5"];
    CHECK(top1 >= 0);
    CHECK(top1 <= top5);
    CHECK(top5 <= 1);
  }
}

TEST_CASE("SimCLR with a joint probe: the probe learns on detached features and is logged, not saved") {
  const test::TempDir temp("ssl_test_joint_probe");
  const std::string& dir = temp.path();
  PretrainOptions p;
  p.data = "synthetic:train:64";
  p.joint_probe = "synthetic:train:64@2";  // 20 labelled images
  p.out_dir = dir;
  p.epochs = 2;
  p.batch_size = 16;
  p.max_steps_per_epoch = 2;
  p.show_progress = false;
  const auto metrics = pretrain(p);
  REQUIRE(metrics.size() == 2);
  for (const auto& m : metrics) {
    CHECK(m.train_top1 >= 0);
    CHECK(m.train_top1 <= 1);
  }
  const auto checkpoint = nn::load_safetensors(dir + "/checkpoint.safetensors");
  CHECK(checkpoint.count("model.probe.weight") == 1);
  CHECK(checkpoint.at("model.probe.weight").shape() == Shape{10, 4096});
  CHECK(nn::load_safetensors(dir + "/encoder.safetensors").count("probe.weight") == 0);
  std::ifstream jsonl(dir + "/metrics.jsonl");
  std::string first;
  std::getline(jsonl, first);
  CHECK(nlohmann::json::parse(first).contains("train_top1"));

  // The probe's loss never reaches the encoder: with the probe alone changed, the encoder's gradient is the
  // same.
  manual_seed(7);
  SimCLROptions o;
  o.probe_classes = 3;
  SimCLR model(nn::make_encoder("convnet2", 8), o);
  data::Batch views, labelled;
  views.images = Tensor::normal({4, 3, 8, 8}, 0, 1);
  labelled.images = Tensor::normal({3, 3, 8, 8}, 0, 1);
  labelled.labels = Tensor::from_vector<int64_t>({0, 1, 2}, {3});
  model.loss(views, {0, 0, &labelled}).backward();
  const std::vector<float> with_probe = model.encoder->parameters()[0].grad().to_vector<float>();
  CHECK(model.probe->weight.grad().defined());
  model.zero_grad();
  model.forward(views.images).backward();
  CHECK(model.encoder->parameters()[0].grad().to_vector<float>() == with_probe);

  // Nor does its batch move batch norm's running statistics: the probe reads the encoder in eval mode, so
  // a step with the probe leaves them as a step without it does.
  auto buffers_after_step = [&](bool with_labelled) {
    manual_seed(8);
    SimCLR bn_model(nn::make_encoder("mobilenet_v1:0.25", 32), o);
    data::Batch bn_views, bn_labelled;
    bn_views.images = Tensor::normal({4, 3, 32, 32}, 0, 1);
    bn_labelled.images = Tensor::normal({3, 3, 32, 32}, 0, 1);
    bn_labelled.labels = labelled.labels;
    if (with_labelled)
      bn_model.loss(bn_views, {0, 0, &bn_labelled});
    else
      bn_model.forward(bn_views.images);
    CHECK(bn_model.encoder->is_training());
    std::vector<std::vector<float>> values;
    for (const auto& [name, buffer] : bn_model.encoder->named_buffers())
      if (buffer.dtype() == DType::f32) values.push_back(buffer.to_vector<float>());
    return values;
  };
  const auto with_probe_step = buffers_after_step(true);
  CHECK_FALSE(with_probe_step.empty());
  CHECK(with_probe_step == buffers_after_step(false));
}
