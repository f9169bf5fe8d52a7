// The semi-supervised GAN: its three loss terms on hand-made logits (both forms of the fake class), a tiny
// run's outputs (its discriminator's trunk as an encoder among them), its variants, and exact resume.
#include <doctest/doctest.h>
#include <omp.h>

#include <unistd.h>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "data/image_grid.h"
#include "data/synthetic.h"
#include "nn/checkpoint.h"
#include "nn/sgan.h"
#include "ssl/evaluate.h"
#include "ssl/sgan.h"
#include "support/same_tensors.h"
#include "support/temp_dir.h"

using namespace ssl;
namespace fs = std::filesystem;
using ssl::test::check_same_tensors;

namespace {

// Each test case's runs go under this process's scratch directory, removed when the test case ends.
const char* const kSganScratch = "ssl_test_sgan";
const fs::path kSganRoot = test::TempDir::path_for(kSganScratch);

// K = 3 real classes and the fake logit last.
Tensor hand_logits(float fake0 = 7, float fake1 = -2) {
  return Tensor::from_vector<float>({1, 2, 0.5f, fake0, -1, 0, 3, fake1}, {2, 4});
}
Tensor hand_labels() { return Tensor::from_vector<int64_t>({1, 2}, {2}); }

double lse3(double a, double b, double c) { return std::log(std::exp(a) + std::exp(b) + std::exp(c)); }

SganOptions tiny_sgan_run(const std::string& name, int64_t epochs) {
  SganOptions o;
  o.labelled = "synthetic:train:40@2";         // 2 per class: 20 labelled images
  o.unlabelled = "synthetic:train:40@2,rest";  // the other 20: two steps an epoch of 8
  o.test = "synthetic:test:40";
  o.image_size = 16;  // the 32-px images are resized
  o.epochs = epochs;
  o.batch_size = 8;
  o.latent = 16;
  o.sample_every = 5;
  o.workers = 1;
  o.show_progress = false;
  o.out_dir = (kSganRoot / name).string();
  return o;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("sgan losses: the fixed form (fake logit 0) on hand-made logits") {
  const Tensor logits = hand_logits();
  // Labelled: cross-entropy over the 3 real classes: mean of lse − l_y.
  const double sup = ((lse3(1, 2, 0.5) - 2) + (lse3(-1, 0, 3) - 3)) / 2;
  CHECK(sgan_supervised_loss(logits, hand_labels()).item() == doctest::Approx(sup).epsilon(1e-5));
  // D(real) = Z / (Z + 1): unlabelled −log D, generated −log(1 − D).
  const double z0 = std::exp(lse3(1, 2, 0.5)), z1 = std::exp(lse3(-1, 0, 3));
  const double unl = (-std::log(z0 / (z0 + 1)) - std::log(z1 / (z1 + 1))) / 2;
  const double fake = (std::log(z0 + 1) + std::log(z1 + 1)) / 2;
  CHECK(sgan_unlabelled_loss(logits, FakeLogit::fixed).item() == doctest::Approx(unl).epsilon(1e-5));
  CHECK(sgan_fake_loss(logits, FakeLogit::fixed).item() == doctest::Approx(fake).epsilon(1e-5));

  // Logit K is ignored: any value gives the same three losses.
  const Tensor other = hand_logits(-30, 12);
  CHECK(sgan_supervised_loss(other, hand_labels()).item() ==
        sgan_supervised_loss(logits, hand_labels()).item());
  CHECK(sgan_unlabelled_loss(other, FakeLogit::fixed).item() ==
        sgan_unlabelled_loss(logits, FakeLogit::fixed).item());
  CHECK(sgan_fake_loss(other, FakeLogit::fixed).item() == sgan_fake_loss(logits, FakeLogit::fixed).item());

  // Gradient of the generated term: d/dl_k softplus(lse) / N = sigmoid(lse) · softmax_k / N, and 0 for l_K.
  Tensor x = hand_logits().set_requires_grad();
  sgan_fake_loss(x, FakeLogit::fixed).backward();
  const std::vector<float> g = x.grad().to_vector<float>();
  const double sig0 = z0 / (z0 + 1);
  CHECK(g[0] == doctest::Approx(sig0 * std::exp(1.0) / z0 / 2).epsilon(1e-5));
  CHECK(g[1] == doctest::Approx(sig0 * std::exp(2.0) / z0 / 2).epsilon(1e-5));
  CHECK(g[3] == 0.f);
  CHECK(g[7] == 0.f);

  // At lse = 0 (one real class, logit 0) the generated term softplus(lse) has derivative sigmoid(0) = ½, the
  // unlabelled term softplus(lse) − lse has ½ − 1.
  Tensor zero = Tensor::from_vector<double>({0, 5}, {1, 2}).set_requires_grad();
  sgan_fake_loss(zero, FakeLogit::fixed).backward();
  CHECK(zero.grad().to_vector<double>()[0] == doctest::Approx(0.5));
  zero.zero_grad();
  sgan_unlabelled_loss(zero, FakeLogit::fixed).backward();
  CHECK(zero.grad().to_vector<double>()[0] == doctest::Approx(-0.5));

  // Large logits stay finite.
  const Tensor big = Tensor::from_vector<float>({100, 90, 80, 0}, {1, 4});
  CHECK(sgan_unlabelled_loss(big, FakeLogit::fixed).item() == doctest::Approx(0).epsilon(1e-6));
  CHECK(sgan_fake_loss(big, FakeLogit::fixed).item() ==
        doctest::Approx(100 + std::log1p(std::exp(-10.0) + std::exp(-20.0))));
}

TEST_CASE("sgan losses: the explicit form (K+1 logits) on hand-made logits") {
  const Tensor logits = hand_logits();
  // p_fake = softmax(l)_K; unlabelled −log(1 − p_fake), generated −log p_fake.
  const double e0 = std::exp(lse3(1, 2, 0.5)), e1 = std::exp(lse3(-1, 0, 3));
  const double p0 = std::exp(7.0) / (e0 + std::exp(7.0)), p1 = std::exp(-2.0) / (e1 + std::exp(-2.0));
  const double unl = (-std::log(1 - p0) - std::log(1 - p1)) / 2, fake = (-std::log(p0) - std::log(p1)) / 2;
  CHECK(sgan_unlabelled_loss(logits, FakeLogit::explicit_logit).item() == doctest::Approx(unl).epsilon(1e-5));
  CHECK(sgan_fake_loss(logits, FakeLogit::explicit_logit).item() == doctest::Approx(fake).epsilon(1e-5));
  // The labelled term is the same cross-entropy over the real classes in both forms.
  CHECK(sgan_supervised_loss(logits, hand_labels()).item() == doctest::Approx(0.2651263439).epsilon(1e-5));

  // With l_K = 0 the explicit form is the fixed one.
  const Tensor zero = hand_logits(0, 0);
  CHECK(sgan_unlabelled_loss(zero, FakeLogit::explicit_logit).item() ==
        doctest::Approx(sgan_unlabelled_loss(zero, FakeLogit::fixed).item()).epsilon(1e-6));
  CHECK(sgan_fake_loss(zero, FakeLogit::explicit_logit).item() ==
        doctest::Approx(sgan_fake_loss(zero, FakeLogit::fixed).item()).epsilon(1e-6));

  CHECK(parse_fake_logit("explicit") == FakeLogit::explicit_logit);
  CHECK_THROWS_WITH_AS(parse_fake_logit("odena"), doctest::Contains("expected fixed or explicit"),
                       ssl::Error);
  CHECK_THROWS_AS(sgan_fake_loss(Tensor::zeros({2, 1}), FakeLogit::fixed), ssl::Error);
}

TEST_CASE("sgan feature matching: squared difference of the batch means, averaged over features") {
  const Tensor real = Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2});  // means 2, 3
  const Tensor fake = Tensor::from_vector<float>({0, 0, 2, 2}, {2, 2});  // means 1, 1
  CHECK(sgan_feature_matching_loss(real, fake).item() == doctest::Approx((1.0 + 4.0) / 2));
  CHECK_THROWS_WITH_AS(sgan_feature_matching_loss(Tensor::zeros({0, 2}), fake),
                       doctest::Contains("expected two non-empty batches"), ssl::Error);
}

TEST_CASE("nn::SganDiscriminator: the logits are the last layer applied to the penultimate features") {
  nn::SganDiscriminator d(3, 16);
  d.eval();  // no dropout, so two passes agree
  const Tensor x = Tensor::normal({2, 3, 16, 16}, 0, 1);
  const Tensor f = d.features(x);
  CHECK(f.shape() == Shape{2, 128 * 2 * 2});
  CHECK(d.classify(f).to_vector<float>() == d.forward(x).to_vector<float>());
}

TEST_CASE("sgan: a tiny run writes metrics, samples, both networks and results; resume is exact") {
  const test::TempDir scratch(kSganScratch);
  const SganOptions straight_opts = tiny_sgan_run("straight", 2);
  const std::vector<SganEpochMetrics> straight = train_sgan(straight_opts);
  REQUIRE(straight.size() == 2);
  const std::string dir = straight_opts.out_dir;
  for (const char* f :
       {"config.json", "metrics.jsonl", "metrics.csv", "samples_epoch_001.png", "samples_epoch_002.png",
        "generator.safetensors", "discriminator.safetensors", "checkpoint.safetensors", "results.json"})
    CHECK_MESSAGE(fs::exists(dir + "/" + f), f);
  for (const SganEpochMetrics& m : straight) {
    CHECK(std::isfinite(m.d_loss));
    CHECK(m.d_loss == doctest::Approx(m.d_supervised + m.d_unlabelled + m.d_fake));
    CHECK(m.d_unlabelled > 0);
    CHECK(m.d_fake > 0);
    CHECK(m.g_loss > 0);
    CHECK(m.test_top1 >= 0);
    CHECK(m.test_top5 >= m.test_top1);
  }
  // The PNG: 8×8 tiles of 16 px enlarged 4× (64 px cells).
  const std::string png = read_file(dir + "/samples_epoch_001.png");
  REQUIRE(png.size() > 24);
  CHECK(png.substr(1, 3) == "PNG");
  const auto be32 = [&](size_t at) {
    return (uint32_t(uint8_t(png[at])) << 24) | (uint32_t(uint8_t(png[at + 1])) << 16) |
           (uint32_t(uint8_t(png[at + 2])) << 8) | uint32_t(uint8_t(png[at + 3]));
  };
  CHECK(be32(16) == 8 * 64 + 9 * 2);  // width: 8 cells and 9 paddings of 2
  CHECK(be32(20) == 8 * 64 + 9 * 2);  // height the same: no label strips under generated images
  // The networks' state_dict names; the discriminator's K+1 = 11 logits.
  const auto disc = nn::load_safetensors(dir + "/discriminator.safetensors");
  REQUIRE(disc.count("main.10.weight"));
  CHECK(disc.at("main.10.weight").size(0) == 11);
  CHECK(nn::load_safetensors(dir + "/generator.safetensors").count("main.0.weight"));
  // encoder.safetensors: the discriminator's trunk (nn::sgan_trunk), for `ssl eval` and `ssl embed`. It takes
  // images normalised as every encoder's are, twice the discriminator's [−1, 1] input, and gives the
  // discriminator's features.
  CHECK(nn::read_safetensors_metadata(dir + "/encoder.safetensors").at("model") == "sgan_trunk");
  nn::SganDiscriminator trained(10, 16);
  nn::load_module(dir + "/discriminator.safetensors", trained);
  trained.eval();
  const nn::EncoderPtr encoder = load_encoder(dir);
  CHECK(encoder->image_size == 16);
  encoder->eval();
  {
    NoGradGuard no_grad;
    const Tensor x = Tensor::normal({3, 3, 16, 16}, 0, 0.5);
    CHECK(encoder->forward(x * 2.0).to_vector<float>() == trained.features(x).to_vector<float>());
  }
  EvalOptions knn;
  knn.encoder = dir;
  knn.protocol = "knn";
  knn.train = "synthetic:train:40";
  knn.test = "synthetic:test:20";
  knn.show_progress = false;
  CHECK(evaluate(knn)["splits"]["test"]["images"] == 20);
  // metrics.jsonl: one record per epoch; results.json: the last epoch's test accuracy.
  std::ifstream jsonl(dir + "/metrics.jsonl");
  int lines = 0;
  for (std::string line; std::getline(jsonl, line);) {
    const auto j = nlohmann::json::parse(line);
    CHECK(j.contains("g_loss"));
    CHECK(j.contains("test_top5"));
    ++lines;
  }
  CHECK(lines == 2);
  const auto results = nlohmann::json::parse(read_file(dir + "/results.json"));
  CHECK(results.at("variant") == "semi-supervised");
  CHECK(results.at("splits").at("test").at("top1").get<double>() == straight[1].test_top1);
  CHECK(results.at("splits").at("test").at("images") == 40);
  // config.json: the compute threads the run used, and the counts a resume checks the data against.
  const auto config = nlohmann::json::parse(read_file(dir + "/config.json"));
  CHECK(config.at("threads") == omp_get_max_threads());
  CHECK(config.at("data_counts") ==
        nlohmann::json{
            {"labelled_images", 20}, {"unlabelled_images", 20}, {"test_images", 40}, {"steps_per_epoch", 2}});

  // A new run into the directory is refused, the finished run left as it was.
  const std::string fingerprint = nn::file_fingerprint(dir + "/checkpoint.safetensors");
  CHECK_THROWS_WITH_AS(train_sgan(straight_opts), doctest::Contains("holds a run already"), ssl::Error);
  CHECK(nn::file_fingerprint(dir + "/checkpoint.safetensors") == fingerprint);

  // Killed after epoch 1, then resumed for epoch 2: the same losses, weights and samples, exactly.
  SganOptions killed = tiny_sgan_run("resumed", 2);
  killed.stop_after_epochs = 1;
  const std::vector<SganEpochMetrics> before_kill = train_sgan(killed);
  REQUIRE(before_kill.size() == 1);
  SganOptions resumed_opts = tiny_sgan_run("resumed", 2);
  resumed_opts.resume = true;
  resumed_opts.workers = 2;  // batches do not depend on the loader's thread count
  const std::vector<SganEpochMetrics> resumed = train_sgan(resumed_opts);
  REQUIRE(resumed.size() == 2);
  // Epoch 1 is the checkpoint's record, not trained again (which would time it anew).
  CHECK(resumed[0].seconds == before_kill[0].seconds);
  for (size_t i = 0; i < 2; ++i) {
    CHECK(resumed[i].epoch == int64_t(i + 1));
    CHECK_MESSAGE(resumed[i].d_loss == straight[i].d_loss, "epoch ", i + 1);  // exact, not approximate
    CHECK(resumed[i].d_supervised == straight[i].d_supervised);
    CHECK(resumed[i].d_unlabelled == straight[i].d_unlabelled);
    CHECK(resumed[i].d_fake == straight[i].d_fake);
    CHECK(resumed[i].g_loss == straight[i].g_loss);
    CHECK(resumed[i].train_accuracy == straight[i].train_accuracy);
    CHECK(resumed[i].test_top1 == straight[i].test_top1);
  }
  check_same_tensors(dir + "/generator.safetensors", resumed_opts.out_dir + "/generator.safetensors");
  check_same_tensors(dir + "/discriminator.safetensors", resumed_opts.out_dir + "/discriminator.safetensors");
  check_same_tensors(dir + "/checkpoint.safetensors", resumed_opts.out_dir + "/checkpoint.safetensors");
  CHECK(read_file(dir + "/samples_epoch_002.png") ==
        read_file(resumed_opts.out_dir + "/samples_epoch_002.png"));

  // The saved options come back; nothing is left to do at 2 epochs; other options must agree.
  const SganOptions back = sgan_resume_options(resumed_opts.out_dir);
  CHECK(back.batch_size == 8);
  CHECK(back.image_size == 16);
  CHECK_THROWS_WITH_AS(train_sgan(resumed_opts), doctest::Contains("already completed 2 epochs"), ssl::Error);
  SganOptions conflict = tiny_sgan_run("resumed", 3);
  conflict.resume = true;
  conflict.fake_logit = "explicit";
  CHECK_THROWS_WITH_AS(train_sgan(conflict), doctest::Contains("fake_logit: saved \"fixed\""), ssl::Error);
  conflict.fake_logit = "fixed";
  conflict.unsupervised_weight = 0.5;
  CHECK_THROWS_WITH_AS(train_sgan(conflict), doctest::Contains("unsupervised_weight: saved 1"), ssl::Error);
}

TEST_CASE("sgan: a finished run is kept for the data it was trained on, and refused when that has changed") {
  const test::TempDir scratch(kSganScratch);
  const std::string folder = (kSganRoot / "images").string();
  const data::SyntheticDataset source(data::Split::train, 40);
  const auto file_of = [&](int64_t i) {
    return folder + "/" + std::to_string(source.label(i) % 2) + "/" + std::to_string(i) + ".png";
  };
  for (int64_t i = 0; i < source.size(); ++i) {
    fs::create_directories(fs::path(file_of(i)).parent_path());
    data::write_png(file_of(i), source.image(i));
  }
  SganOptions o = tiny_sgan_run("kept", 1);
  o.labelled = "folder:" + folder + "@2";
  o.unlabelled = "folder:" + folder + "@2,rest";
  o.test = "folder:" + folder;
  sgan_or_continue(o, "sgan");
  const std::string checkpoint = o.out_dir + "/checkpoint.safetensors";
  const std::string saved = nn::file_fingerprint(checkpoint);
  sgan_or_continue(o, "sgan");  // the same data: kept
  CHECK(nn::file_fingerprint(checkpoint) == saved);
  for (int64_t i = 0; i < 8; ++i) fs::remove(file_of(i));
  CHECK_THROWS_WITH_AS(
      sgan_or_continue(o, "sgan"),
      doctest::Contains("test_images: 40 when the run started, 32 now\n  unlabelled_images: 36 "
                        "when the run started, 28 now"),
      ssl::Error);
  CHECK(nn::file_fingerprint(checkpoint) == saved);
}

TEST_CASE("sgan variants: supervised-only, explicit fake logit without feature matching, pretrained") {
  const test::TempDir scratch(kSganScratch);
  SganOptions sup = tiny_sgan_run("supervised_only", 1);
  sup.unlabelled = "";
  const auto m = train_sgan(sup);
  REQUIRE(m.size() == 1);
  CHECK(m[0].d_unlabelled == 0);
  CHECK(m[0].d_fake == 0);
  CHECK(m[0].g_loss == 0);
  CHECK(m[0].d_loss == doctest::Approx(m[0].d_supervised));
  CHECK(nlohmann::json::parse(read_file(sup.out_dir + "/results.json")).at("variant") == "supervised-only");
  CHECK_FALSE(fs::exists(sup.out_dir + "/samples_epoch_001.png"));  // an untrained generator's: none

  SganOptions odena = tiny_sgan_run("explicit", 1);
  odena.fake_logit = "explicit";
  odena.feature_matching = false;
  const auto e = train_sgan(odena);
  REQUIRE(e.size() == 1);
  CHECK(std::isfinite(e[0].g_loss));
  CHECK(e[0].g_loss > 0);

  // Salimans et al.'s weighting: the unlabelled and generated terms count half in the discriminator's loss.
  SganOptions halved = tiny_sgan_run("halved", 1);
  halved.unsupervised_weight = 0.5;
  const auto h = train_sgan(halved);
  REQUIRE(h.size() == 1);
  CHECK(h[0].d_unlabelled > 0);
  CHECK(h[0].d_loss == doctest::Approx(h[0].d_supervised + 0.5 * (h[0].d_unlabelled + h[0].d_fake)));
  CHECK(nlohmann::json::parse(read_file(halved.out_dir + "/results.json")).at("unsupervised_weight") == 0.5);
  SganOptions lone = tiny_sgan_run("lone_label", 1);
  lone.labelled = "synthetic:train:1";
  CHECK_THROWS_WITH_AS(train_sgan(lone), doctest::Contains("batch norm needs 2 labelled images at least"),
                       ssl::Error);
  halved.unsupervised_weight = -0.5;
  CHECK_THROWS_WITH_AS(train_sgan(halved),
                       doctest::Contains("unsupervised weight must be a finite number >= 0"), ssl::Error);

  // An encoder as the discriminator, with a new 11-logit head; its encoder is exported for `ssl eval`.
  SganOptions pre = tiny_sgan_run("pretrained", 1);
  pre.init_discriminator = "random:convnet2";
  REQUIRE(train_sgan(pre).size() == 1);
  const auto disc = nn::load_safetensors(pre.out_dir + "/discriminator.safetensors");
  REQUIRE(disc.count("head.weight"));
  CHECK(disc.at("head.weight").size(0) == 11);
  CHECK(disc.count("encoder.0.weight"));
  const nn::Metadata meta = nn::read_safetensors_metadata(pre.out_dir + "/encoder.safetensors");
  CHECK(meta.at("model") == "convnet2");
  CHECK(meta.at("image_size") == "16");

  // Unlabelled --labelled or --test data: refused when opened, nothing written.
  SganOptions bad = tiny_sgan_run("bad", 1);
  bad.labelled = "synthetic:train:40@2,rest";
  CHECK_THROWS_WITH_AS(train_sgan(bad), doctest::Contains("of --labelled"), ssl::Error);
  CHECK_FALSE(fs::exists(bad.out_dir));
  SganOptions bad_test = tiny_sgan_run("bad_test", 1);
  bad_test.test = "synthetic:test:40@2,rest";
  CHECK_THROWS_WITH_AS(train_sgan(bad_test), doctest::Contains("of --test"), ssl::Error);
  CHECK_FALSE(fs::exists(bad_test.out_dir));
  SganOptions bad_encoder = tiny_sgan_run("bad_encoder", 1);
  bad_encoder.init_discriminator = (kSganRoot / "no_such_run").string();
  CHECK_THROWS_AS(train_sgan(bad_encoder), ssl::Error);
  CHECK_FALSE(fs::exists(bad_encoder.out_dir));  // nothing written for a run that could not start
}

TEST_CASE("sgan --max-steps: each epoch stops after that many steps; a larger limit leaves it whole") {
  const test::TempDir scratch(kSganScratch);
  // tiny_run's epoch is two steps of 8 of its 20 unlabelled images.
  const auto steps_taken = [](const SganOptions& o) {
    return nn::read_safetensors_metadata(o.out_dir + "/checkpoint.safetensors").at("global_step");
  };
  SganOptions capped = tiny_sgan_run("capped", 2);
  capped.max_steps_per_epoch = 1;
  REQUIRE(train_sgan(capped).size() == 2);
  CHECK(steps_taken(capped) == "2");
  CHECK(sgan_resume_options(capped.out_dir).max_steps_per_epoch == 1);  // kept for --resume
  // Kept by sgan_or_continue when asked again; a run planned for another number of epochs is refused.
  sgan_or_continue(capped, "capped");
  CHECK(steps_taken(capped) == "2");
  SganOptions longer = capped;
  longer.epochs = 3;
  CHECK_THROWS_WITH_AS(sgan_or_continue(longer, "capped"),
                       doctest::Contains("planned for epochs = 2 (2 done) but this one asks for epochs = 3"),
                       ssl::Error);
  SganOptions loose = tiny_sgan_run("loose", 1);
  loose.max_steps_per_epoch = 5;
  REQUIRE(train_sgan(loose).size() == 1);
  CHECK(steps_taken(loose) == "2");
}

TEST_CASE("sgan moving average: the decay's warm-up and one update on hand-made weights") {
  CHECK(ema_decay_at(0.999, 0) == doctest::Approx(0.1));    // (1 + 0) / (10 + 0)
  CHECK(ema_decay_at(0.999, 90) == doctest::Approx(0.91));  // 91 / 100
  CHECK(ema_decay_at(0.9, 1000) == doctest::Approx(0.9));   // the decay itself once the warm-up passes it
  nn::Linear average(2, 1), live(2, 1);
  {
    NoGradGuard no_grad;
    average.weight.copy_(Tensor::from_vector<float>({1, 2}, {1, 2}));
    average.bias.copy_(Tensor::from_vector<float>({4}, {1}));
    live.weight.copy_(Tensor::from_vector<float>({3, -2}, {1, 2}));
    live.bias.copy_(Tensor::from_vector<float>({0}, {1}));
  }
  update_average(average, live, 0.75);
  CHECK(average.weight.to_vector<float>() == std::vector<float>{1.5f, 1.f});
  CHECK(average.bias.to_vector<float>() == std::vector<float>{3.f});
  CHECK(live.weight.to_vector<float>() == std::vector<float>{3, -2});
  nn::Linear other(3, 1);
  CHECK_THROWS_AS(update_average(average, other, 0.5), ssl::Error);  // another shape
}

TEST_CASE("sgan --ema-decay: the average is evaluated and written, training is unchanged, resume is exact") {
  const test::TempDir scratch(kSganScratch);
  const std::vector<SganEpochMetrics> plain = train_sgan(tiny_sgan_run("plain", 2));
  SganOptions averaged = tiny_sgan_run("averaged", 2);
  averaged.ema_decay = 0.99;
  const std::vector<SganEpochMetrics> with_average = train_sgan(averaged);
  REQUIRE(with_average.size() == 2);
  // Averaging draws nothing from the run's random streams and changes no trained weight.
  for (size_t i = 0; i < 2; ++i) {
    CHECK(with_average[i].d_loss == plain[i].d_loss);
    CHECK(with_average[i].g_loss == plain[i].g_loss);
  }
  const auto plain_state =
      nn::load_safetensors(tiny_sgan_run("plain", 2).out_dir + "/checkpoint.safetensors");
  const auto state = nn::load_safetensors(averaged.out_dir + "/checkpoint.safetensors");
  const auto written = nn::load_safetensors(averaged.out_dir + "/discriminator.safetensors");
  int differ = 0;
  for (const auto& [name, t] : written) {
    INFO(name);
    CHECK(state.at("model.discriminator." + name).to_vector<float>() ==
          plain_state.at("model.discriminator." + name).to_vector<float>());
    // discriminator.safetensors is the average, which the checkpoint keeps beside the trained weights.
    CHECK(state.at("model.discriminator_ema." + name).to_vector<float>() == t.to_vector<float>());
    differ += state.at("model.discriminator." + name).to_vector<float>() != t.to_vector<float>();
  }
  CHECK(differ > 0);

  SganOptions killed = tiny_sgan_run("averaged_resumed", 2);
  killed.ema_decay = 0.99;
  killed.stop_after_epochs = 1;
  const std::vector<SganEpochMetrics> before_kill = train_sgan(killed);
  SganOptions resumed = killed;
  resumed.stop_after_epochs = 0;
  resumed.resume = true;
  const std::vector<SganEpochMetrics> resumed_metrics = train_sgan(resumed);
  REQUIRE(resumed_metrics.size() == 2);
  CHECK(resumed_metrics[0].seconds == before_kill[0].seconds);  // restored, not trained again
  CHECK(resumed_metrics[1].test_top1 == with_average[1].test_top1);
  check_same_tensors(averaged.out_dir + "/checkpoint.safetensors",
                     resumed.out_dir + "/checkpoint.safetensors");
  // A run saved before averaging existed reads as one without it.
  CHECK(sgan_options_from_json({{"epochs", 3}}).ema_decay == 0);
  SganOptions conflict = resumed;
  conflict.epochs = 3;
  conflict.ema_decay = 0.9;
  CHECK_THROWS_WITH_AS(train_sgan(conflict), doctest::Contains("ema_decay: saved 0.99"), ssl::Error);
}
