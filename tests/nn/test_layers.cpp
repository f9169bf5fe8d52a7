// Layers and models: shapes, parameter counts, train/eval behaviour.
#include <doctest/doctest.h>

#include "nn/models.h"
#include "nn/optim.h"
#include "support/gradcheck.h"

using namespace ssl;

TEST_CASE("ConvNet2 gives 4,096 features at 32×32 and has the expected parameters") {
  auto e = nn::convnet2();
  CHECK(e->feature_dim == 4096);
  Tensor x = Tensor::normal({2, 3, 32, 32}, 0, 1);
  CHECK(e->forward(x).shape() == Shape{2, 4096});
  // conv1: 32·3·9 + 32, conv2: 64·32·9 + 64
  CHECK(e->parameter_count() == 32 * 27 + 32 + 64 * 288 + 64);
  auto head = nn::projection_head(4096);
  CHECK(head->parameter_count() == 4096 * 512 + 2 * 512 + 512 * 128 + 128);  // no bias before the BN
  CHECK_THROWS_WITH_AS(nn::make_encoder("vgg"), doctest::Contains("known models: convnet2"), ssl::Error);
}

TEST_CASE("BatchNorm uses batch statistics in training and running ones in evaluation") {
  nn::BatchNorm bn(2);
  Tensor x = Tensor::from_vector<float>({1, 10, 3, 30}, {2, 2});
  Tensor y = bn.forward(x);
  const auto v = y.to_vector<float>();
  CHECK(v[0] == doctest::Approx(-1.0).epsilon(1e-3));  // (1 − 2)/1
  CHECK(v[2] == doctest::Approx(1.0).epsilon(1e-3));
  // running_mean = 0.9·0 + 0.1·(2, 20); running_var = 0.9·1 + 0.1·unbiased var (2, 200)
  CHECK(bn.running_mean.to_vector<float>() == std::vector<float>{0.2f, 2.0f});
  CHECK(bn.running_var.to_vector<float>()[1] == doctest::Approx(0.9 + 20.0));
  CHECK(bn.num_batches_tracked.item() == 1);
  // A batch the op refuses (one value per channel; another channel count) is not counted.
  CHECK_THROWS_AS(bn.forward(Tensor::ones({1, 2})), ssl::Error);
  CHECK_THROWS_AS(bn.forward_relu(Tensor::ones({2, 3})), ssl::Error);
  CHECK(bn.num_batches_tracked.item() == 1);
  bn.eval();
  const auto e = bn.forward(x).to_vector<float>();
  CHECK(e[0] == doctest::Approx((1 - 0.2) / std::sqrt(1.1 + 1e-5)));
}

TEST_CASE("Sequential names children 0, 1, 2 and train/eval reaches them") {
  nn::Sequential s{std::make_shared<nn::Linear>(3, 4), std::make_shared<nn::ReLU>(),
                   std::make_shared<nn::Linear>(4, 2)};
  const auto names = s.named_parameters();
  REQUIRE(names.size() == 4);
  CHECK(names[0].first == "0.weight");
  CHECK(names[3].first == "2.bias");
  s.eval();
  CHECK_FALSE(s.is_training());
  CHECK_THROWS_WITH_AS(s.append(nullptr), doctest::Contains("register_module: module '3' is null"),
                       ssl::Error);
  // EvalModeGuard gives the module its mode back, when its scope ends by an exception too.
  s.train();
  try {
    nn::EvalModeGuard eval(s);
    CHECK_FALSE(s.is_training());
    throw ssl::Error("features are not finite");
  } catch (const ssl::Error&) {
  }
  CHECK(s.is_training());
}

TEST_CASE(
    "a module registered in two places gives its parameters once; an optimizer refuses one given twice") {
  auto shared = std::make_shared<nn::Linear>(2, 2);
  nn::Sequential tied{shared, std::make_shared<nn::ReLU>(), shared};
  CHECK(tied.named_parameters().size() == 4);  // under both names, as a checkpoint stores them
  const std::vector<Tensor> params = tied.parameters();
  REQUIRE(params.size() == 2);
  CHECK(params[0].impl_ptr() == shared->weight.impl_ptr());
  CHECK(params[1].impl_ptr() == shared->bias.impl_ptr());
  CHECK(tied.parameter_count() == 6);
  CHECK_THROWS_WITH_AS(nn::SGD({shared->weight, shared->bias, shared->weight}, 0.1),
                       doctest::Contains("optimizer: parameters 0 and 2 are the same tensor"), ssl::Error);
}
