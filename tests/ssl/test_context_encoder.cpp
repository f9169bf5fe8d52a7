// Context encoder: the loss sees only the loss region (overlap band x10), the encoder never sees the hidden
// pixels, masks are a pure function of (seed, epoch, index), the decoder gives back an image of the input's
// size, the adversarial term routes each gradient to its own player, and the method trains from the runner.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "data/synthetic.h"
#include "nn/optim.h"
#include "ssl/context_encoder.h"
#include "ssl/pretrain.h"
#include "support/temp_dir.h"

using namespace ssl;

namespace {

// The first n synthetic training images, normalised as the loader does ((x / 255 - 0.5) / 0.25).
Tensor synthetic_batch(int64_t n) {
  const data::SyntheticDataset ds(data::Split::train, n);
  std::vector<float> v;
  for (int64_t i = 0; i < n; ++i) {
    const data::Image img = ds.image(i);
    for (int64_t c = 0; c < img.c; ++c)
      for (int64_t y = 0; y < img.h; ++y)
        for (int64_t x = 0; x < img.w; ++x) v.push_back((float(img(y, x, c)) / 255.f - 0.5f) / 0.25f);
  }
  return Tensor::from_vector(v, {n, 3, 32, 32});
}

data::Batch make_batch(const Tensor& images, std::vector<int64_t> indices) {
  data::Batch b;
  b.images = images;
  b.indices = std::move(indices);
  b.labels = Tensor::zeros({b.size()}, DType::i64);
  return b;
}

std::vector<int64_t> iota_indices(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = i;
  return v;
}

}  // namespace

TEST_CASE("context: the loss covers the loss region only, the overlap band weighted x10") {
  // 8x8 centre hole of side 4 at (2, 2) with a 1 px band: hidden 2x2 at (3, 3), band 12 pixels.
  ContextOptions o;
  o.mask.hole_fraction = 0.5;
  o.mask.overlap = 1;
  const ContextMasks m = context_masks(o, {0}, 8, 8, {0, 0});
  const auto hidden = m.hidden.to_vector<float>(), weights = m.weights.to_vector<float>();
  const auto region = m.region.to_vector<float>();
  for (int64_t y = 0; y < 8; ++y) {
    for (int64_t x = 0; x < 8; ++x) {
      CAPTURE(y);
      CAPTURE(x);
      const bool in_region = y >= 2 && y < 6 && x >= 2 && x < 6, in_hole = y >= 3 && y < 5 && x >= 3 && x < 5;
      const size_t k = size_t(y * 8 + x);
      CHECK(hidden[k] == (in_hole ? 1.f : 0.f));
      CHECK(region[k] == (in_region ? 1.f : 0.f));
      CHECK(weights[k] == (in_hole ? 1.f : in_region ? 10.f : 0.f));
    }
  }

  // Error 1 on hidden pixels, 2 on the band, 5 outside the region, in both channels: per channel the
  // weighted sum is 4 * 1 + 12 * 10 * 4 = 484, averaged over the region's 16 pixels (not the weights' 124).
  const Tensor target = Tensor::normal({1, 2, 8, 8}, 0, 1);
  std::vector<float> err(128);
  for (int64_t c = 0; c < 2; ++c)
    for (int64_t p = 0; p < 64; ++p)
      err[size_t(c * 64 + p)] = hidden[size_t(p)] ? 1.f : region[size_t(p)] ? 2.f : 5.f;
  const Tensor recon = target + Tensor::from_vector(err, {1, 2, 8, 8});
  const double base = masked_l2_loss(recon, target, m).item();
  CHECK(base == doctest::Approx(484.0 / 16.0).epsilon(1e-6));

  // Changes outside the region leave the loss alone; inside, the same rise of the squared error (+8) counts
  // 10x more on a band pixel than on a hidden one.
  const auto loss_with = [&](int64_t c, int64_t y, int64_t x, float e) {
    std::vector<float> e2 = err;
    e2[size_t(c * 64 + y * 8 + x)] = e;
    return masked_l2_loss(target + Tensor::from_vector(e2, {1, 2, 8, 8}), target, m).item();
  };
  CHECK(loss_with(0, 0, 0, -40.f) == doctest::Approx(base).epsilon(1e-6));
  CHECK(loss_with(1, 7, 6, 13.f) == doctest::Approx(base).epsilon(1e-6));
  CHECK(loss_with(1, 2, 1, 0.f) == doctest::Approx(base).epsilon(1e-6));  // just left of the region
  const double hidden_change = loss_with(0, 3, 3, 3.f) - base;
  CHECK(hidden_change == doctest::Approx(8.0 / 32.0).epsilon(1e-4));
  // On the band, the same squared-error increase (4 -> 12) weighs 10x: 10 * 8 / 32.
  CHECK(loss_with(0, 2, 2, std::sqrt(12.f)) - base == doctest::Approx(80.0 / 32.0).epsilon(1e-4));
}

TEST_CASE("context: the encoder's input holds the fill value of each channel on hidden pixels") {
  manual_seed(1);
  ContextOptions o;
  o.mask.mode = data::MaskOptions::Mode::random_blocks;
  const std::vector<float> fill = {0.75f, -1.5f, 0.25f};
  ContextEncoder method(nn::make_encoder("convnet2", 32), o, fill);
  const Tensor images = synthetic_batch(4);
  const StepContext ctx{3, 1};
  const ContextEncoder::Step step = method.prepare(make_batch(images, {10, 11, 12, 13}), ctx);
  REQUIRE(step.input.shape() == images.shape());
  const auto in = step.input.to_vector<float>(), img = images.to_vector<float>();
  const auto hidden = step.masks.hidden.to_vector<float>();
  int64_t hidden_count = 0, wrong = 0;
  for (int64_t n = 0; n < 4; ++n)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t p = 0; p < 32 * 32; ++p) {
        const size_t k = size_t((n * 3 + c) * 1024 + p);
        const bool h = hidden[size_t(n * 1024 + p)] == 1.f;
        hidden_count += h;
        wrong += in[k] != (h ? fill[size_t(c)] : img[k]);
      }
  CHECK(wrong == 0);
  CHECK(hidden_count > 3 * 4 * 100);

  // Whatever the hidden pixels held, the encoder gets the same input, hence the same reconstruction.
  const Tensor noisy = images + Tensor::normal(images.shape(), 0, 3) * step.masks.hidden;
  const ContextEncoder::Step step2 = method.prepare(make_batch(noisy, {10, 11, 12, 13}), ctx);
  CHECK(step2.input.to_vector<float>() == in);
  CHECK(noisy.to_vector<float>() != img);
}

namespace {
// Images of one colour each, (51, 102, 204) for the even ones and black for the odd: the mean colour is
// (0.1, 0.2, 0.4) of 255 over any even count, however the images are picked.
class TwoColours final : public data::Dataset {
 public:
  int64_t size() const override { return 6; }
  int64_t num_classes() const override { return 1; }
  std::vector<std::string> class_names() const override { return {"a"}; }
  data::Image image(int64_t i) const override {
    data::Image img(4, 4, 3);
    for (int64_t p = 0; p < 16 && i % 2 == 0; ++p)
      for (int64_t c = 0; c < 3; ++c) img.pixels[size_t(p * 3 + c)] = uint8_t(51 << c);
    return img;
  }
  int64_t label(int64_t) const override { return 0; }
  std::string name() const override { return "two colours"; }
};
}  // namespace

TEST_CASE(
    "context: the hole is filled with the training images' mean colour, normalised as the loader does") {
  PretrainOptions p;
  p.method = "context";
  const MethodSetup setup = make_method(p, TwoColours());
  const auto& method = dynamic_cast<const ContextEncoder&>(*setup.model);
  // (mean - 0.5) / 0.25 per channel.
  REQUIRE(method.fill.size() == 3);
  CHECK(method.fill[0] == doctest::Approx(-1.6).epsilon(1e-6));
  CHECK(method.fill[1] == doctest::Approx(-1.2).epsilon(1e-6));
  CHECK(method.fill[2] == doctest::Approx(-0.4).epsilon(1e-6));
}

TEST_CASE("context: masks are a pure function of (seed, epoch, index)") {
  ContextOptions o;
  o.mask.mode = data::MaskOptions::Mode::random_blocks;
  const auto mask = [&](uint64_t seed, int64_t epoch, int64_t index) {
    return context_mask(o, 32, 32, {seed, epoch}, index).loss_region;
  };
  CHECK(mask(7, 2, 5) == mask(7, 2, 5));
  CHECK(mask(7, 2, 5) != mask(7, 2, 6));
  CHECK(mask(7, 2, 5) != mask(7, 3, 5));
  CHECK(mask(7, 2, 5) != mask(8, 2, 5));
  // A batch's masks are the samples' own, wherever they sit in the batch.
  const ContextMasks batch = context_masks(o, {6, 5}, 32, 32, {7, 2});
  const auto region = batch.region.to_vector<float>();
  const auto own = mask(7, 2, 5);
  int64_t wrong = 0;
  for (size_t p = 0; p < own.size(); ++p) wrong += region[1024 + p] != float(own[p]);
  CHECK(wrong == 0);
  // Centre mode draws nothing: the same hole for every sample.
  o.mask.mode = data::MaskOptions::Mode::centre;
  CHECK(mask(7, 2, 5) == mask(9, 0, 1234));
  CHECK(parse_mask_mode("blocks") == data::MaskOptions::Mode::random_blocks);
  CHECK(mask_mode_name(parse_mask_mode("centre")) == "centre");
  CHECK_THROWS_AS(parse_mask_mode("ring"), ssl::Error);
}

TEST_CASE("context: the decoder maps the encoder's features back to an image of the input's size") {
  manual_seed(2);
  {
    ContextEncoder method(nn::make_encoder("convnet2", 32));
    CHECK(method.forward(Tensor::normal({2, 3, 32, 32}, 0, 1)).shape() == Shape{2, 3, 32, 32});
    bool has_encoder = false, has_decoder = false, has_discriminator = false;
    for (const auto& [name, t] : method.named_parameters()) {
      has_encoder |= name.rfind("encoder.", 0) == 0;
      has_decoder |= name.rfind("decoder.", 0) == 0;
      has_discriminator |= name.rfind("discriminator.", 0) == 0;
    }
    CHECK((has_encoder && has_decoder && !has_discriminator));
  }
  {
    ContextEncoder method(nn::make_encoder("mobilenet_v1", 64));
    CHECK(method.forward(Tensor::normal({2, 3, 64, 64}, 0, 1)).shape() == Shape{2, 3, 64, 64});
  }
  CHECK_THROWS_AS(ContextEncoder(nn::make_encoder("convnet2", 36)), ssl::Error);  // not a multiple of 8
  ContextOptions bad;
  bad.adversarial_weight = 1;
  CHECK_THROWS_AS(ContextEncoder(nn::make_encoder("convnet2", 32), bad), ssl::Error);
}

TEST_CASE("context: the adversarial term trains the discriminator and the encoder-decoder apart") {
  manual_seed(3);
  ContextOptions o;
  o.adversarial_weight = 0.25;
  ContextEncoder method(nn::make_encoder("convnet2", 32), o);
  REQUIRE(method.discriminator);
  const data::Batch batch = make_batch(synthetic_batch(4), {0, 1, 2, 3});
  const StepContext ctx{0, 0};
  const auto grads = [](const nn::Module& m) {
    std::vector<std::vector<float>> g;
    for (const Tensor& p : m.parameters())
      g.push_back(p.grad().defined() ? p.grad().to_vector<float>() : std::vector<float>{});
    return g;
  };
  method.zero_grad();
  method.loss(batch, ctx).backward();
  const auto decoder_grads = grads(*method.decoder), critic_grads = grads(*method.discriminator);

  // The same terms by hand: the decoder's gradient is that of (1 - w) L2 + w generator, the
  // discriminator's that of its own loss on real regions and detached reconstructions.
  method.zero_grad();
  const ContextEncoder::Step step = method.prepare(batch, ctx);
  const Tensor recon = method.forward(step.input);
  const Tensor ones = Tensor::ones({4, 1}), zeros = Tensor::zeros({4, 1});
  const Tensor fake = recon * step.masks.region, real = batch.images * step.masks.region;
  const Tensor generator = masked_l2_loss(recon, batch.images, step.masks) * 0.75 +
                           binary_cross_entropy_with_logits(method.discriminator->forward(fake), ones) * 0.25;
  const Tensor critic = binary_cross_entropy_with_logits(method.discriminator->forward(real), ones) +
                        binary_cross_entropy_with_logits(method.discriminator->forward(fake.detach()), zeros);
  generator.backward();
  const auto expected_decoder = grads(*method.decoder);
  method.discriminator->zero_grad();
  critic.backward();
  const auto expected_critic = grads(*method.discriminator);
  // Equal up to float rounding, relative to each tensor's largest entry.
  const auto same = [](const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      REQUIRE(!a[i].empty());
      REQUIRE(a[i].size() == b[i].size());
      float largest = 0;
      for (float v : b[i]) largest = std::max(largest, std::fabs(v));
      CAPTURE(i);
      CHECK(largest > 0);
      int64_t differ = 0;
      for (size_t k = 0; k < a[i].size(); ++k)
        differ += std::fabs(a[i][k] - b[i][k]) > 1e-4f * largest + 1e-9f;
      CHECK(differ == 0);
    }
  };
  same(decoder_grads, expected_decoder);
  same(critic_grads, expected_critic);
}

TEST_CASE("context: encoder and decoder learn to fill the hole of a fixed batch") {
  manual_seed(5);
  ContextEncoder method(nn::make_encoder("convnet2", 32));
  const data::Batch batch = make_batch(synthetic_batch(16), iota_indices(16));
  nn::Adam opt(method.parameters(), 2e-3);
  double first = 0, last = 0;
  for (int step = 0; step < 30; ++step) {
    Tensor loss = method.loss(batch, {0, 0});
    (step == 0 ? first : last) = loss.item();
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  CHECK(std::isfinite(first));
  CHECK(last < 0.7 * first);
}

TEST_CASE("context: the pre-training runner trains it and writes the encoder") {
  const test::TempDir temp("ssl_test_context_run");
  const std::string& dir = temp.path();
  PretrainOptions p;
  p.method = "context";
  p.data = "synthetic:train:64";
  p.out_dir = dir;
  p.epochs = 2;
  p.batch_size = 16;
  p.workers = 2;
  p.show_progress = false;
  p.context.mask.mode = data::MaskOptions::Mode::random_blocks;
  const auto metrics = pretrain(p);
  REQUIRE(metrics.size() == 2);
  CHECK(std::isfinite(metrics[0].loss));
  CHECK(std::isfinite(metrics[1].loss));
  CHECK(std::filesystem::exists(dir + "/encoder.safetensors"));
  CHECK(std::filesystem::exists(dir + "/checkpoint.safetensors"));
  // The method's options round-trip through config.json.
  const PretrainOptions back = pretrain_options_from_json(pretrain_options_json(p));
  CHECK(back.context.mask.mode == data::MaskOptions::Mode::random_blocks);
  CHECK(back.context.overlap_weight == 10);
  CHECK(back.context.objective == std::string(kContextObjective));

  // A run saved before the objective was recorded trained the earlier one (grey fill, L2 over the weights'
  // sum): it is neither resumed nor kept as this version's, and a resume of it builds nothing.
  nlohmann::json earlier = pretrain_options_json(p);
  earlier.erase("context_objective");
  const PretrainOptions old = pretrain_options_from_json(earlier);
  CHECK(old.context.objective == std::string(kEarlierContextObjective));
  CHECK_THROWS_WITH_AS(check_resume_options(old, p, "saved"), doctest::Contains("context_objective: saved"),
                       ssl::Error);
  CHECK_THROWS_WITH_AS(make_method(old, data::SyntheticDataset(data::Split::train, 8)),
                       doctest::Contains("made with an earlier objective"), ssl::Error);
  // Other methods' runs saved before it was recorded compare equal to this version's.
  PretrainOptions rotation = p;
  rotation.method = "rotation";
  nlohmann::json rotation_earlier = pretrain_options_json(rotation);
  rotation_earlier.erase("context_objective");
  check_resume_options(pretrain_options_from_json(rotation_earlier), rotation, "saved");
}
