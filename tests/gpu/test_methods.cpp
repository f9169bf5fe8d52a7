// Every training path on a CUDA device: each method's loss and gradients on a batch equal the CPU's for the
// same weights, and the runners (pretrain, evaluation, SGAN) train and evaluate end to end on the device.
#include <doctest/doctest.h>

#include <unistd.h>
#include <cmath>
#include <filesystem>
#include <string>

#include "data/synthetic.h"
#include "ssl/evaluate.h"
#include "ssl/features.h"
#include "ssl/method.h"
#include "ssl/pretrain.h"
#include "ssl/sgan.h"
#include "support/kernel_check.h"
#include "support/temp_dir.h"

using namespace ssl;
namespace fs = std::filesystem;

namespace {

// Each test case's runs go under this process's scratch directory, removed when the test case ends.
const char* const kScratch = "ssl_test_gpu_methods";
const fs::path kRoot = test::TempDir::path_for(kScratch);

// The same method twice, the second's weights copied from the first's and moved to the GPU.
struct MethodPair {
  MethodSetup cpu, gpu;
  MethodPair(const PretrainOptions& o, const data::Dataset& data)
      : cpu(make_method(o, data)), gpu(make_method(o, data)) {
    NoGradGuard no_grad;
    const auto from = cpu.model->state(), to = gpu.model->state();
    REQUIRE(from.size() == to.size());
    for (size_t i = 0; i < from.size(); ++i) Tensor(to[i].second).copy_(from[i].second);
    gpu.model->to(Device::cuda());
  }
};

}  // namespace

TEST_CASE("each method's loss and gradients on CUDA equal the CPU's for the same batch") {
  const data::SyntheticDataset shapes(data::Split::train, 40);
  for (const std::string method : {"simclr", "rotation", "context", "patch", "supervised"}) {
    CAPTURE(method);
    PretrainOptions o;
    o.method = method;
    o.batch_size = 8;
    MethodPair m(o, shapes);
    data::LoaderOptions lo = image_loader_options(o.batch_size, 3, 0);
    lo.views = m.cpu.views;
    lo.transform = m.cpu.augmentation.get();
    data::Loader loader(shapes, lo);
    loader.start_epoch(0);
    data::Batch batch;
    REQUIRE(loader.next(batch));
    StepContext context;
    context.seed = 5;
    const Tensor loss_cpu = m.cpu.model->loss(batch, context);
    batch.to(Device::cuda());
    const Tensor loss_gpu = m.gpu.model->loss(batch, context);
    REQUIRE(loss_gpu.device() == Device::cuda());
    CHECK(loss_gpu.item() == doctest::Approx(loss_cpu.item()).epsilon(1e-3));
    loss_cpu.backward();
    loss_gpu.backward();
    const auto p_cpu = m.cpu.model->named_parameters(), p_gpu = m.gpu.model->named_parameters();
    REQUIRE(p_gpu.size() == p_cpu.size());
    for (size_t i = 0; i < p_cpu.size(); ++i) {
      REQUIRE(p_gpu[i].first == p_cpu[i].first);
      // A parameter the loss did not use (a discriminator) has a gradient on neither device.
      CHECK_MESSAGE(p_gpu[i].second.grad().defined() == p_cpu[i].second.grad().defined(),
                    (method + ": gradient of " + p_cpu[i].first + " defined on one device only"));
      if (!p_cpu[i].second.grad().defined() || !p_gpu[i].second.grad().defined()) continue;
      test::check_close(p_gpu[i].second.grad().to_vector<float>(), p_cpu[i].second.grad().to_vector<double>(),
                        2e-3, 2e-3, method + " gradient of " + p_cpu[i].first);
    }
  }
}

TEST_CASE("pretrain, linear evaluation and the SGAN run end to end on CUDA") {
  const test::TempDir scratch(kScratch);
  PretrainOptions p;
  p.method = "simclr";
  p.data = "synthetic:train:64";
  p.batch_size = 16;
  p.epochs = 2;
  p.device = "cuda";
  p.show_progress = false;
  p.out_dir = (kRoot / "simclr").string();
  const auto metrics = pretrain(p);
  REQUIRE(metrics.size() == 2);
  for (const auto& m : metrics) CHECK(std::isfinite(m.loss));

  EvalOptions e;
  e.encoder = p.out_dir;
  e.train = "synthetic:train:100";
  e.test = "synthetic:test:50";
  e.device = "cuda";
  e.show_progress = false;
  e.probe.epochs = 5;
  const nlohmann::json r = evaluate(e);
  CHECK(r["splits"]["test"]["images"].get<int64_t>() == 50);
  // The same evaluation on the CPU: features that differ only by rounding give the same accuracies, up to a
  // few images whose scores nearly tie (a test image is 2 points, a training image 1).
  e.device = "cpu";
  const nlohmann::json on_cpu = evaluate(e);
  for (const char* split : {"train", "test"}) {
    CAPTURE(split);
    const double gpu = r["splits"][split]["top1"].get<double>(), cpu = on_cpu["splits"][split]["top1"];
    CHECK(std::abs(gpu - cpu) <= 0.06);
  }

  SganOptions g;
  g.labelled = "synthetic:train:80@4";
  g.unlabelled = "synthetic:train:80@4,rest";
  g.test = "synthetic:test:40";
  g.image_size = 16;
  g.epochs = 1;
  g.batch_size = 8;
  g.latent = 16;
  g.device = "cuda";
  g.show_progress = false;
  g.out_dir = (kRoot / "sgan").string();
  const auto sgan = train_sgan(g);
  REQUIRE(sgan.size() == 1);
  CHECK(std::isfinite(sgan[0].d_loss));
  CHECK(std::isfinite(sgan[0].g_loss));
}
