// Rotation prediction: the tensor rotations equal the exact image rotations, all four are in one batch with
// labels 0..3, and the method trains from the command-line runner.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "data/synthetic.h"
#include "data/transforms_extra.h"
#include "nn/optim.h"
#include "ssl/pretrain.h"
#include "ssl/rotation.h"
#include "support/image_tensor.h"
#include "support/temp_dir.h"

using namespace ssl;
using ssl::test::as_tensor;

TEST_CASE("rotate90 on tensors equals the exact image rotation, for every k") {
  data::Image img(5, 5, 3);
  for (int64_t i = 0; i < img.numel(); ++i) img.pixels[size_t(i)] = uint8_t(i * 7 % 251);
  for (int k = -1; k <= 4; ++k) {
    CAPTURE(k);
    CHECK(rotate90(as_tensor(img), k).to_vector<float>() ==
          as_tensor(data::rotate90(img, k)).to_vector<float>());
  }
  CHECK_THROWS_AS(rotate90(Tensor::zeros({1, 1, 2, 3}), 1), ssl::Error);
  CHECK(rotate90(Tensor::zeros({1, 1, 2, 3}), 2).shape() == Shape{1, 1, 2, 3});
}

TEST_CASE("rotation: the four rotations of every image in the same batch, labelled 0..3") {
  const Tensor images = Tensor::normal({3, 2, 4, 4}, 0, 1);
  const auto [rotated, labels] = RotationPrediction::rotated_batch(images);
  CHECK(rotated.shape() == Shape{12, 2, 4, 4});
  CHECK(labels.to_vector<int64_t>() == std::vector<int64_t>{0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3});
  for (int r = 0; r < 4; ++r)
    CHECK(rotated.slice(0, 3 * r, 3 * r + 3).to_vector<float>() == rotate90(images, r).to_vector<float>());
  // The loss of an untrained head is about log 4 and it has a gradient for the encoder.
  RotationPrediction method(nn::make_encoder("convnet2", 4));
  const Tensor loss = method.forward(images.slice(1, 0, 1).expand({3, 3, 4, 4}).contiguous());
  CHECK(loss.item() == doctest::Approx(std::log(4.0)).epsilon(0.1));
  loss.backward();
  CHECK(method.encoder->parameters()[0].grad().defined());
}

TEST_CASE("rotation: encoder and head learn the rotations of a fixed batch") {
  manual_seed(5);
  const data::SyntheticDataset ds(data::Split::train, 16);
  std::vector<Tensor> images;
  for (int64_t i = 0; i < ds.size(); ++i)
    images.push_back(mul(as_tensor(ds.image(i)), Tensor::scalar(1.0 / 255)));
  const Tensor x = cat(images, 0);
  RotationPrediction method(nn::make_encoder("convnet2", 32));
  nn::Adam opt(method.parameters(), 2e-3);
  double first = 0, last = 0;
  for (int step = 0; step < 30; ++step) {
    Tensor loss = method.forward(x);
    (step == 0 ? first : last) = loss.item();
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  CHECK(first == doctest::Approx(std::log(4.0)).epsilon(0.1));
  CHECK(last < 0.8 * first);
  CHECK(method.last_accuracy > 0.5);  // the last step's accuracy on the 64 rotated images (0.8; chance 0.25)
}

TEST_CASE("rotation: the pre-training runner trains it and writes the encoder") {
  const test::TempDir temp("ssl_test_rotation_run");
  const std::string& dir = temp.path();
  PretrainOptions p;
  p.method = "rotation";
  p.data = "synthetic:train:64";
  p.out_dir = dir;
  p.epochs = 2;
  p.batch_size = 16;
  p.workers = 2;
  p.show_progress = false;
  const auto metrics = pretrain(p);
  REQUIRE(metrics.size() == 2);
  CHECK(std::isfinite(metrics[1].loss));
  CHECK(metrics[1].loss == doctest::Approx(std::log(4.0)).epsilon(0.2));  // 4 classes, barely trained
  for (const EpochMetrics& m : metrics) CHECK((m.train_top1 >= 0 && m.train_top1 <= 1));  // logged, not NaN
  CHECK(std::filesystem::exists(dir + "/encoder.safetensors"));
  CHECK(std::filesystem::exists(dir + "/checkpoint.safetensors"));
}
