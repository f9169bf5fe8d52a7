// SimCLR end to end at small scale: pre-training must give features that a linear probe classifies better
// than those of a randomly initialised encoder of the same architecture, evaluated the same way.
// About a minute in the release build on 2 cores; scripts/test.sh leaves this suite out of the sanitizer
// build, where the same training takes several times as long (the training code it runs is covered there by
// the other suites).
#include <doctest/doctest.h>

#include <filesystem>

#include "ssl/evaluate.h"
#include "ssl/pretrain.h"
#include "support/temp_dir.h"

using namespace ssl;

TEST_CASE("SimCLR pre-training beats a random encoder under the linear probe (small scale)") {
  const test::TempDir temp("ssl_test_simclr");
  const std::string& dir = temp.path();
  PretrainOptions p;
  p.data = "synthetic:train:2048";
  p.out_dir = dir;
  p.epochs = 20;
  p.batch_size = 128;
  p.show_progress = false;
  const auto metrics = pretrain(p);
  REQUIRE(metrics.size() == 20);
  CHECK(metrics.back().loss < metrics.front().loss);
  CHECK(std::filesystem::exists(dir + "/encoder.safetensors"));
  CHECK(std::filesystem::exists(dir + "/metrics.csv"));

  EvalOptions e;
  e.train = "synthetic:train:2048";
  e.test = "synthetic:test:1000";
  e.probe.epochs = 30;
  e.show_progress = false;
  e.encoder = dir;
  const double simclr = evaluate(e)["splits"]["test"]["top1"].get<double>();
  e.encoder = "random:convnet2";
  const double random = evaluate(e)["splits"]["test"]["top1"].get<double>();
  MESSAGE("linear probe test top-1: SimCLR ", simclr, ", random encoder ", random);
  CHECK(simclr > random + 0.03);
}
