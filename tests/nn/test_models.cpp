// The larger models and the extra layers: parameter counts against the published ones, state_dict names
// against torchvision's, output shapes at several image sizes, backward reaching the first layer, and the
// forward-FLOP counter.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "nn/flops.h"
#include "nn/layers_extra.h"
#include "nn/mobilenet.h"
#include "nn/models.h"
#include "nn/resnet.h"
#include "nn/sgan.h"

using namespace ssl;

namespace {
Shape shape_of(const nn::Module& m, const std::string& name) {
  for (const auto& [n, t] : m.state())
    if (n == name) return t.shape();
  FAIL("no tensor named " << name);
  return {};
}
bool has(const nn::Module& m, const std::string& name) {
  const auto s = m.state();
  return std::any_of(s.begin(), s.end(), [&](const auto& p) { return p.first == name; });
}
Tensor images(int64_t n, int64_t size) { return Tensor::normal({n, 3, size, size}, 0, 1); }
Tensor tensor_of(const nn::Module& m, const std::string& name) {
  for (const auto& [n, t] : m.state())
    if (n == name) return t;
  FAIL("no tensor named " << name);
  return {};
}
bool same_values(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.to_vector<float>() == b.to_vector<float>();
}
}  // namespace

TEST_CASE("ConvTranspose2d: PyTorch's weight layout, names and default init bound") {
  nn::ConvTranspose2d d(4, 6, 3, {2, 1, 1, 2});
  CHECK(d.weight.shape() == Shape{4, 3, 3, 3});
  CHECK(d.bias.shape() == Shape{6});
  const auto names = d.named_parameters();
  REQUIRE(names.size() == 2);
  CHECK(names[0].first == "weight");
  CHECK(names[1].first == "bias");
  const double bound = 1 / std::sqrt(3.0 * 9);  // fan_in = (out/groups)·k·k
  for (float v : d.weight.to_vector<float>()) CHECK(std::abs(v) <= bound);
  const auto w = d.weight.to_vector<float>();
  CHECK(*std::max_element(w.begin(), w.end()) > bound / 2);  // spread over the range, not all tiny
  CHECK(d.forward(Tensor::zeros({2, 4, 5, 5})).shape() == Shape{2, 6, 10, 10});
  CHECK(nn::ConvTranspose2d(3, 5, 4, {}, false).named_parameters().size() == 1);
  CHECK_THROWS_AS(nn::ConvTranspose2d(3, 5, 4, {2, 1, 2}), ssl::Error);  // output_padding >= stride
}

TEST_CASE("UpsampleConv2d: Conv2d's parameters and draws, applied to the image upsampled by 2") {
  manual_seed(21);
  nn::UpsampleConv2d up(3, 5);
  manual_seed(21);
  nn::Conv2d conv(3, 5, 3, {1, 1});
  const auto names = up.named_parameters();
  REQUIRE(names.size() == 2);
  CHECK(names[0].first == "weight");
  CHECK(names[1].first == "bias");
  CHECK(same_values(up.weight, conv.weight));
  CHECK(same_values(up.bias, conv.bias));
  const Tensor x = Tensor::normal({2, 3, 4, 6}, 0, 1);
  const Tensor y = up.forward(x), reference = conv.forward(nn::Upsample(2).forward(x));
  REQUIRE(y.shape() == Shape{2, 5, 8, 12});
  const auto a = y.to_vector<float>(), b = reference.to_vector<float>();
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i] == doctest::Approx(b[i]).epsilon(1e-5));
  CHECK(nn::UpsampleConv2d(3, 5, /*bias=*/false).named_parameters().size() == 1);
}

TEST_CASE("the small extra layers") {
  Tensor x = Tensor::from_vector<float>({-2, -0.5, 0, 3}, {1, 1, 2, 2});
  CHECK(nn::LeakyReLU(0.1).forward(x).to_vector<float>() == std::vector<float>{-0.2f, -0.05f, 0, 3});
  CHECK(nn::Tanh().forward(x).to_vector<float>()[3] == doctest::Approx(std::tanh(3.0)));
  CHECK(nn::Sigmoid().forward(x).to_vector<float>()[2] == doctest::Approx(0.5));
  CHECK(nn::Identity().forward(x).same_as(x));
  CHECK(nn::AvgPool2d(2).forward(x).to_vector<float>() == std::vector<float>{0.125f});
  CHECK(nn::AdaptiveAvgPool2d(1).forward(Tensor::ones({2, 3, 5, 7})).shape() == Shape{2, 3, 1, 1});
  CHECK(nn::Upsample(2).forward(x).shape() == Shape{1, 1, 4, 4});
  CHECK_THROWS_AS(nn::Upsample(0), ssl::Error);

  nn::Dropout drop(0.5);
  Tensor ones = Tensor::ones({1000});
  const auto t = drop.forward(ones).to_vector<float>();
  const auto zeros = std::count(t.begin(), t.end(), 0.0f), twos = std::count(t.begin(), t.end(), 2.0f);
  CHECK(zeros + twos == 1000);  // kept elements are scaled by 1/(1−p)
  CHECK(zeros > 400);
  CHECK(zeros < 600);
  drop.eval();
  CHECK(drop.forward(ones).to_vector<float>() == ones.to_vector<float>());
  CHECK_THROWS_AS(nn::Dropout(1.0), ssl::Error);
}

TEST_CASE("MobileNetV1: 4,231,976 parameters at α = 1 with 1000 classes, and the documented names") {
  auto m = nn::mobilenet_v1_classifier(1000, 224, 1.0);
  CHECK(m->parameter_count() == 4231976);
  CHECK(m->feature_dim == 1000);
  CHECK(shape_of(*m, "features.0.0.weight") == Shape{32, 3, 3, 3});
  CHECK(has(*m, "features.0.1.running_mean"));
  CHECK(shape_of(*m, "features.1.0.weight") == Shape{32, 1, 3, 3});   // depthwise: groups = channels
  CHECK(shape_of(*m, "features.1.3.weight") == Shape{64, 32, 1, 1});  // pointwise
  CHECK(has(*m, "features.1.4.num_batches_tracked"));
  CHECK(shape_of(*m, "features.13.3.weight") == Shape{1024, 1024, 1, 1});
  CHECK(shape_of(*m, "fc.weight") == Shape{1000, 1024});
  CHECK_FALSE(has(*m, "features.14.0.weight"));
  CHECK_FALSE(has(*m, "features.1.0.bias"));  // convolutions have no bias
  // 14 convolutions, 14 BNs (2 parameters, 3 buffers each), fc weight and bias
  CHECK(m->named_parameters().size() == 27 * 1 + 27 * 2 + 2);
  CHECK(m->state().size() == 27 * 1 + 27 * 5 + 2);

  m->eval();
  {
    NoGradGuard no_grad;
    CHECK(m->forward(images(1, 224)).shape() == Shape{1, 1000});
  }
  // The width multiplier scales every layer; the encoder has no fc.
  auto half = nn::mobilenet_v1(96, 0.5);
  CHECK(half->feature_dim == 512);
  CHECK_FALSE(has(*half, "fc.weight"));
  CHECK(shape_of(*half, "features.0.0.weight") == Shape{16, 3, 3, 3});
  CHECK(half->forward(images(2, 96)).shape() == Shape{2, 512});
}

TEST_CASE("MobileNetV1 encoder at 32, 96, 128 and 224: stem stride 1 below 64 pixels, 2 from 64") {
  NoGradGuard no_grad;  // shapes only
  for (int64_t size : {32, 96, 128, 224}) {
    INFO("image size ", size);
    auto e = std::dynamic_pointer_cast<nn::MobileNetV1>(nn::make_encoder("mobilenet_v1", size));
    REQUIRE(e);
    CHECK(e->feature_dim == 1024);
    const int64_t n = size >= 128 ? 1 : 2;
    Tensor x = images(n, size);
    const int64_t grid = size < 64 ? size / 16 : size / 32;  // 32 → 2, 96 → 3, 128 → 4, 224 → 7
    if (size <= 96) {
      CHECK(e->forward(x).shape() == Shape{n, 1024});
    } else {  // the whole forward at 224 is run by the classifier test above; here only its grid
      CHECK(e->features->forward(x).shape() == Shape{n, 1024, grid, grid});
    }
  }
  auto small = std::dynamic_pointer_cast<nn::MobileNetV1>(nn::make_encoder("mobilenet_v1", 32));
  CHECK(small->features->forward(images(1, 32)).shape() == Shape{1, 1024, 2, 2});
}

TEST_CASE("ResNet-18: 11,689,512 parameters with the ImageNet stem and 1000 classes, torchvision's names") {
  auto r = nn::resnet18_classifier(1000, nn::ResNetStem::imagenet);
  CHECK(r->parameter_count() == 11689512);
  // torchvision.models.resnet18().state_dict() has 122 entries (62 parameters, 60 BN buffers)
  CHECK(r->named_parameters().size() == 62);
  const auto state = r->state();
  REQUIRE(state.size() == 122);
  const std::vector<std::string> first = {
      "conv1.weight",          "bn1.weight",         "bn1.bias",
      "bn1.running_mean",      "bn1.running_var",    "bn1.num_batches_tracked",
      "layer1.0.conv1.weight", "layer1.0.bn1.weight"};
  for (size_t i = 0; i < first.size(); ++i) CHECK(state[i].first == first[i]);
  CHECK(state[120].first == "fc.weight");
  CHECK(state[121].first == "fc.bias");
  CHECK(shape_of(*r, "conv1.weight") == Shape{64, 3, 7, 7});
  CHECK(shape_of(*r, "layer1.0.conv1.weight") == Shape{64, 64, 3, 3});
  CHECK(shape_of(*r, "layer2.0.downsample.0.weight") == Shape{128, 64, 1, 1});
  CHECK(has(*r, "layer2.0.downsample.1.running_var"));
  CHECK(shape_of(*r, "layer4.1.conv2.weight") == Shape{512, 512, 3, 3});
  CHECK_FALSE(has(*r, "layer1.0.downsample.0.weight"));  // identity shortcut
  CHECK_FALSE(has(*r, "layer2.1.downsample.0.weight"));
  CHECK(shape_of(*r, "fc.weight") == Shape{1000, 512});
  r->eval();
  {
    NoGradGuard no_grad;
    CHECK(r->forward(images(1, 224)).shape() == Shape{1, 1000});
  }

  // The CIFAR stem changes only conv1: 3×3 instead of 7×7.
  auto c = nn::resnet18_classifier(10, nn::ResNetStem::cifar);
  CHECK(shape_of(*c, "conv1.weight") == Shape{64, 3, 3, 3});
  CHECK(c->parameter_count() == 11689512 - 64 * 3 * (49 - 9) - 512 * 990 - 990);
}

TEST_CASE("ResNet-18 encoder: CIFAR stem up to 64 pixels, ImageNet stem above; 512 features") {
  NoGradGuard no_grad;  // shapes only
  for (int64_t size : {32, 64, 96, 128, 224}) {
    INFO("image size ", size);
    auto e = std::dynamic_pointer_cast<nn::ResNet18>(nn::make_encoder("resnet18", size));
    REQUIRE(e);
    CHECK(e->stem == (size <= 64 ? nn::ResNetStem::cifar : nn::ResNetStem::imagenet));
    CHECK(e->feature_dim == 512);
    CHECK_FALSE(has(*e, "fc.weight"));
    // (the forward at 224 is run by the classifier test above)
    if (size != 64 && size != 224)
      CHECK(e->forward(images(size == 32 ? 2 : 1, size)).shape() == Shape{size == 32 ? 2 : 1, 512});
  }
}

TEST_CASE("a training step's gradients reach the first layer of each model") {
  auto check_first_grad = [](nn::Module& m, const Tensor& out, const std::string& first) {
    sum(mul(out, out)).backward();
    for (const auto& [n, t] : m.named_parameters())
      if (n == first) {
        REQUIRE(t.grad().defined());
        const auto g = t.grad().to_vector<float>();
        CHECK(std::any_of(g.begin(), g.end(), [](float v) { return v != 0 && std::isfinite(v); }));
        return;
      }
    FAIL("no parameter " << first);
  };
  auto r = nn::resnet18(16);
  check_first_grad(*r, r->forward(images(2, 16)), "conv1.weight");
  auto m = nn::mobilenet_v1(32, 0.25);
  check_first_grad(*m, m->forward(images(2, 32)), "features.0.0.weight");
  auto g = nn::sgan_generator(16, 32);
  auto d = nn::sgan_discriminator(10, 32);
  check_first_grad(*g, d->forward(g->forward(Tensor::normal({2, 16}, 0, 1))), "main.0.weight");
}

TEST_CASE("SGAN generator and discriminator: shapes at 32, 64, 128 and the parameter budget at 128") {
  for (int64_t size : {32, 64, 128}) {
    INFO("image size ", size);
    auto g = nn::sgan_generator(100, size);
    auto d = nn::sgan_discriminator(18, size);
    Tensor fake = g->forward(Tensor::normal({2, 100}, 0, 1));
    CHECK(fake.shape() == Shape{2, 3, size, size});
    const auto v = fake.to_vector<float>();
    CHECK(std::all_of(v.begin(), v.end(), [](float x) { return x > -1 && x < 1; }));  // Tanh
    CHECK(g->forward(Tensor::normal({2, 100, 1, 1}, 0, 1)).shape() == Shape{2, 3, size, size});
    CHECK(d->forward(fake).shape() == Shape{2, 19});  // K + 1 logits
  }
  auto g = nn::sgan_generator(100, 128);
  auto d = nn::sgan_discriminator(18, 128);
  CHECK(g->parameter_count() == 3306275);
  CHECK(std::abs(g->parameter_count() - 3.4e6) <= 0.05 * 3.4e6);
  CHECK(d->parameter_count() == 716051);
  CHECK(std::abs(d->parameter_count() - 0.7e6) <= 0.05 * 0.7e6);
  CHECK(shape_of(*g, "main.0.weight") == Shape{100, 512, 4, 4});  // ConvTranspose2d layout [in, out, k, k]
  CHECK(shape_of(*g, "main.6.weight") == Shape{128, 256, 3, 3});  // UpsampleConv2d: Conv2d's [out, in, k, k]
  CHECK(shape_of(*d, "main.10.weight") == Shape{19, 128 * 16 * 16});
  CHECK_THROWS_AS(nn::sgan_generator(100, 48), ssl::Error);
  CHECK_THROWS_AS(d->forward(images(1, 64)), ssl::Error);
  CHECK_THROWS_AS(g->forward(Tensor::zeros({2, 99})), ssl::Error);
}

TEST_CASE("the SGAN discriminator's trunk as an encoder: its layers, its initialisation, its features") {
  manual_seed(5);
  auto d = nn::sgan_discriminator(10, 32);
  manual_seed(5);
  nn::EncoderPtr fresh = nn::make_encoder("sgan_trunk", 32);
  CHECK(fresh->feature_dim == 128 * 4 * 4);
  CHECK(fresh->image_size == 32);
  CHECK(fresh->layer_names() == std::vector<std::string>{"conv1", "conv2", "conv3"});
  // Drawn as the discriminator's first eight layers are, under the same names less "main.".
  const auto trunk_state = fresh->state();
  CHECK(trunk_state.size() == d->state().size() - 2);  // all but the last Linear's weight and bias
  for (const auto& [name, t] : trunk_state) {
    CAPTURE(name);
    CHECK(same_values(t, tensor_of(*d, "main." + name)));
  }
  // The discriminator's own trunk shares its layers: its output is the penultimate features, and a change to
  // the discriminator's weights shows in it.
  nn::EncoderPtr shared = d->trunk();
  d->eval();
  shared->eval();
  NoGradGuard no_grad;
  const Tensor x = images(2, 32);
  CHECK(same_values(shared->forward(x), d->features(x)));
  CHECK(shared->forward_to(x, 0).shape() == Shape{2, 32, 16, 16});
  CHECK(shared->forward_to(x, 1).shape() == Shape{2, 64, 8, 8});
  tensor_of(*d, "main.0.bias").fill_(0.25f);
  CHECK(same_values(shared->forward(x), d->features(x)));
  CHECK(same_values(tensor_of(*shared, "0.bias"), tensor_of(*d, "main.0.bias")));
  CHECK_THROWS_WITH_AS(nn::make_encoder("sgan_trunk", 20),
                       doctest::Contains("image size must be a multiple of 8"), ssl::Error);
}

TEST_CASE("make_encoder knows every model and lists them when the name is unknown") {
  CHECK(nn::encoder_names() ==
        std::vector<std::string>{"convnet2", "mobilenet_v1", "resnet18", "sgan_trunk"});
  CHECK_THROWS_WITH_AS(nn::make_encoder("vgg"),
                       doctest::Contains("known models: convnet2, mobilenet_v1, resnet18, sgan_trunk"),
                       ssl::Error);
  // A width multiplier by name, as --model takes it.
  auto half = nn::make_encoder("mobilenet_v1:0.5", 32);
  CHECK(half->feature_dim == 512);
  CHECK(half->image_size == 32);
  for (const char* bad : {"mobilenet_v1:", "mobilenet_v1:0", "mobilenet_v1:-1", "mobilenet_v1:x"}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(nn::make_encoder(bad), doctest::Contains("width multiplier"), ssl::Error);
  }
}

TEST_CASE("forward FLOPs: ConvNet2 by hand, ResNet-18 and MobileNetV1 against the published mult-adds") {
  auto c = nn::convnet2(32);
  // conv1: 32 outputs·27 products at 32×32; conv2: 64 outputs·288 products at 16×16
  CHECK(nn::forward_flops(*c, 32) == 2 * (32 * 27 * 1024 + 64 * 288 * 256));
  CHECK(nn::forward_cost(*c, {4, 3, 32, 32}).macs == 4 * (32 * 27 * 1024 + 64 * 288 * 256));

  auto r = nn::resnet18_classifier(1000, nn::ResNetStem::imagenet);
  const Tensor mean_before = r->bn1->running_mean.clone();
  CHECK(nn::forward_cost(*r, {1, 3, 224, 224}).macs == 1814073344);  // torchvision: 1.814 G
  CHECK(r->is_training());                                           // restored
  CHECK(r->bn1->num_batches_tracked.item() == 0);
  CHECK(r->bn1->running_mean.to_vector<float>() == mean_before.to_vector<float>());

  auto m = nn::mobilenet_v1_classifier(1000, 224, 1.0);
  CHECK(nn::forward_cost(*m, {1, 3, 224, 224}).macs == 568740352);  // the paper: 569 M mult-adds

  // Transposed convolutions count the products each input pixel scatters: 100·512·16 at 1×1.
  nn::ConvTranspose2d d(100, 512, 4, {}, false);
  CHECK(nn::forward_cost(d, {1, 100, 1, 1}).macs == 100 * 512 * 16);
  nn::Linear l(7, 5);
  CHECK(nn::forward_cost(l, {3, 7}).flops() == 2 * 3 * 7 * 5);
  {
    NoGradGuard no_grad;
    CHECK_THROWS_AS(nn::forward_flops(*c, 32), ssl::Error);
  }
}

TEST_CASE("encoder layers: each names its points; the last is forward's output, the others activation maps") {
  NoGradGuard no_grad;
  manual_seed(3);
  const Tensor x = images(2, 32);

  nn::EncoderPtr convnet = nn::make_encoder("convnet2", 32);
  CHECK(convnet->layer_names() == std::vector<std::string>{"pool1", "pool2"});
  // pool1 computed independently from the first convolution's weights.
  const Tensor pool1 = max_pool2d(
      relu(conv2d(x, tensor_of(*convnet, "0.weight"), tensor_of(*convnet, "0.bias"), {1, 1, 1})), 2);
  CHECK(same_values(convnet->forward_to(x, 0), pool1));
  CHECK(same_values(convnet->forward_to(x, 1), convnet->forward(x)));

  auto resnet = nn::make_encoder("resnet18", 32);
  CHECK(resnet->layer_names() == std::vector<std::string>{"layer1", "layer2", "layer3", "layer4"});
  CHECK(resnet->forward_to(x, 0).shape() == Shape{2, 64, 32, 32});
  CHECK(resnet->forward_to(x, 2).shape() == Shape{2, 256, 8, 8});
  CHECK(same_values(resnet->forward_to(x, 3), resnet->forward(x)));

  auto mobilenet = nn::make_encoder("mobilenet_v1:0.25", 32);
  const std::vector<std::string> blocks = mobilenet->layer_names();
  REQUIRE(blocks.size() == 13);
  CHECK(blocks.front() == "block1");
  CHECK(blocks.back() == "block13");
  CHECK(mobilenet->forward_to(x, 0).shape() == Shape{2, 16, 32, 32});  // 64 α channels, stride 1
  CHECK(mobilenet->forward_to(x, 1).shape() == Shape{2, 32, 16, 16});
  CHECK(same_values(mobilenet->forward_to(x, 12), mobilenet->forward(x)));

  CHECK(convnet->layer_index("pool2") == 1);
  CHECK_THROWS_WITH_AS(convnet->layer_index("conv1"),
                       doctest::Contains("no layer 'conv1'; its layers, shallowest first: pool1, pool2"),
                       ssl::Error);
  CHECK_THROWS_AS(resnet->forward_to(x, 4), ssl::Error);
}
