// Optimizer state export/import and training checkpoints: a restored optimizer continues exactly as the
// original would have, and bad snapshots or files give errors naming the tensor.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "nn/checkpoint.h"
#include "nn/layers.h"
#include "nn/optim.h"
#include "nn/train_state.h"
#include "support/temp_dir.h"

using namespace ssl;
namespace fs = std::filesystem;

namespace {

// This process's scratch files, removed when the test program exits.
const test::TempDir kStateScratch("ssl_train_state_test");

std::string state_path(const std::string& name) { return kStateScratch.path() + "/" + name; }

// A 2-D weight, a 1-D bias and a parameter that never receives a gradient (SGD leaves its buffer unstarted).
std::vector<Tensor> make_params() {
  return {Tensor::from_vector<double>({0.5, -1.0, 2.0, 0.25, -0.75, 1.5}, {2, 3}).set_requires_grad(),
          Tensor::from_vector<double>({0.1, -0.2}, {2}).set_requires_grad(),
          Tensor::from_vector<double>({3.0}, {1}).set_requires_grad()};
}

// Deterministic, step-dependent gradients for the first two parameters.
void set_grads(std::vector<Tensor>& ps, int k) {
  for (size_t i = 0; i < 2; ++i) {
    std::vector<double> g(size_t(ps[i].numel()));
    for (size_t j = 0; j < g.size(); ++j) g[j] = std::sin(double(k * 7 + int(i) * 3 + int(j))) + 0.1 * k;
    ps[i].set_grad(Tensor::from_vector<double>(g, ps[i].shape()));
  }
}

using MakeOptimizer = std::function<std::unique_ptr<nn::Optimizer>(std::vector<Tensor>)>;

// Runs `opt` for steps [from, to) with the shared gradient sequence.
void run_steps(nn::Optimizer& opt, std::vector<Tensor>& ps, int from, int to) {
  for (int k = from; k < to; ++k) {
    set_grads(ps, k);
    opt.lr = 0.05 / (1 + k);  // a schedule changes lr between steps, as pretrain does
    opt.step();
  }
}

void check_exact_resume(const MakeOptimizer& make) {
  // Uninterrupted: 5 steps.
  std::vector<Tensor> a = make_params();
  auto opt_a = make(a);
  run_steps(*opt_a, a, 0, 5);

  // Interrupted after 3 steps; a fresh optimizer over copies of the parameters takes over.
  std::vector<Tensor> b = make_params();
  auto opt_b = make(b);
  run_steps(*opt_b, b, 0, 3);
  const nn::OptimizerState snapshot = opt_b->export_state();
  std::vector<Tensor> c;
  for (const Tensor& p : b) c.push_back(p.clone().detach().set_requires_grad());
  auto opt_c = make(c);
  opt_c->import_state(snapshot);
  CHECK(opt_c->steps_taken() == 3);
  run_steps(*opt_c, c, 3, 5);

  // Without the import the continuation differs, so the comparison below can fail.
  std::vector<Tensor> d;
  for (const Tensor& p : b) d.push_back(p.clone().detach().set_requires_grad());
  auto opt_d = make(d);
  run_steps(*opt_d, d, 3, 5);

  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i].to_vector<double>() == c[i].to_vector<double>());
  CHECK(a[0].to_vector<double>() != d[0].to_vector<double>());
}

}  // namespace

TEST_CASE("each optimizer resumes exactly from its exported state") {
  SUBCASE("SGD with momentum and Nesterov") {
    check_exact_resume(
        [](std::vector<Tensor> p) { return std::make_unique<nn::SGD>(p, 0.1, 0.9, 0.01, true); });
  }
  SUBCASE("Adam") {
    check_exact_resume(
        [](std::vector<Tensor> p) { return std::make_unique<nn::Adam>(p, 0.1, 0.9, 0.99, 1e-8, 0.01); });
  }
  SUBCASE("AdamW") {
    check_exact_resume([](std::vector<Tensor> p) { return std::make_unique<nn::AdamW>(p, 0.1); });
  }
  SUBCASE("LARS") {
    check_exact_resume(
        [](std::vector<Tensor> p) { return std::make_unique<nn::LARS>(p, 0.1, 0.9, 1e-4, 0.01); });
  }
}

TEST_CASE("optimizer state names, hyper-parameters and the SGD buffer flag") {
  std::vector<Tensor> ps = make_params();
  nn::SGD sgd(ps, 0.1, 0.9, 0.0, false);
  run_steps(sgd, ps, 0, 2);
  nn::OptimizerState s = sgd.export_state();
  CHECK(s.kind == "sgd");
  CHECK(s.steps == 2);
  CHECK(s.param_count == 3);
  CHECK(s.hyper_parameters.at("momentum") == 0.9);
  CHECK(s.hyper_parameters.at("lr") == sgd.lr);
  // Parameter 2 never had a gradient: its buffer has not started and is not stored.
  REQUIRE(s.tensors.size() == 2);
  CHECK(s.tensors[0].first == "state.0.momentum_buffer");
  CHECK(s.tensors[1].first == "state.1.momentum_buffer");

  nn::Adam adam(make_params(), 0.1);
  const nn::OptimizerState a = adam.export_state();
  CHECK(a.kind == "adam");
  REQUIRE(a.tensors.size() == 9);
  CHECK(a.tensors[0].first == "state.0.exp_avg");
  CHECK(a.tensors[1].first == "state.0.exp_avg_sq");
  CHECK(a.tensors[2].first == "state.0.step");
  CHECK(a.tensors[2].second.dtype() == DType::i64);
  CHECK(nn::AdamW(make_params(), 0.1).export_state().kind == "adamw");

  // The imported hyper-parameters replace the constructor's.
  nn::SGD other(make_params(), 0.5, 0.1, 0.2, false);
  other.import_state(s);
  CHECK(other.momentum == 0.9);
  CHECK(other.weight_decay == 0.0);
  CHECK(other.lr == sgd.lr);
}

TEST_CASE("a bad optimizer snapshot is refused, naming the tensor, and changes nothing") {
  std::vector<Tensor> ps = make_params();
  nn::Adam adam(ps, 0.1);
  run_steps(adam, ps, 0, 2);
  const nn::OptimizerState good = adam.export_state();

  nn::Adam target(make_params(), 0.3);
  nn::OptimizerState s = good;
  s.kind = "sgd";
  CHECK_THROWS_WITH_AS(target.import_state(s, "f.safetensors"), doctest::Contains("is for 'sgd'"),
                       ssl::Error);
  s = good;
  s.tensors[3].second = Tensor::zeros({5});
  CHECK_THROWS_WITH_AS(target.import_state(s, "f.safetensors"),
                       doctest::Contains("f.safetensors: optimizer tensor 'state.1.exp_avg' is float32 [5]"),
                       ssl::Error);
  s = good;
  std::erase_if(s.tensors, [](const auto& named) { return named.first == "state.2.exp_avg_sq"; });
  CHECK_THROWS_WITH_AS(target.import_state(s), doctest::Contains("'state.2.exp_avg_sq'"), ssl::Error);
  s = good;
  s.tensors.emplace_back("state.9.exp_avg", Tensor::zeros({1}));
  CHECK_THROWS_WITH_AS(target.import_state(s), doctest::Contains("'state.9.exp_avg' matches no state"),
                       ssl::Error);
  s = good;
  s.param_count = 2;
  CHECK_THROWS_WITH_AS(target.import_state(s), doctest::Contains("covers 2 parameters"), ssl::Error);
  s = good;
  s.hyper_parameters.erase("beta2");
  CHECK_THROWS_WITH_AS(target.import_state(s), doctest::Contains("'beta2'"), ssl::Error);
  // Values the constructor refuses are refused from a snapshot too: beta1 = 1 made the next step NaN.
  for (const auto& [key, bad] : std::vector<std::pair<std::string, double>>{
           {"beta1", 1.0}, {"eps", 0.0}, {"lr", -5.0}, {"weight_decay", std::nan("")}}) {
    CAPTURE(key);
    s = good;
    s.hyper_parameters[key] = bad;
    CHECK_THROWS_WITH_AS(target.import_state(s, "f.safetensors"),
                         doctest::Contains("f.safetensors: adam: need lr >= 0, betas in [0, 1), eps > 0"),
                         ssl::Error);
  }
  nn::SGD sgd(make_params(), 0.1, 0.9);
  nn::OptimizerState sgd_state = sgd.export_state();
  sgd_state.hyper_parameters["nesterov"] = 0.5;
  CHECK_THROWS_WITH_AS(sgd.import_state(sgd_state), doctest::Contains("nesterov is 0 or 1; got 0.5"),
                       ssl::Error);
  // Every refusal left the target as constructed.
  CHECK(target.steps_taken() == 0);
  CHECK(target.lr == 0.3);
  for (const auto& [name, t] : target.export_state().tensors)
    for (double x : t.to_vector<double>()) CHECK_MESSAGE(x == 0, name);
}

TEST_CASE("a training checkpoint restores model, optimizer and metadata") {
  manual_seed(3);
  nn::Linear model_a(3, 2);
  nn::Adam opt_a(model_a.parameters(), 0.01);
  std::vector<Tensor> pa = model_a.parameters();
  for (int k = 0; k < 2; ++k) {
    for (Tensor& p : pa) p.set_grad(Tensor::full(p.shape(), 0.5 + k, p.dtype()));
    opt_a.step();
  }
  nn::TrainState state;
  state.epoch = 4;
  state.global_step = 17;
  state.rng_seed = 3;
  state.rng_streams_used = 12345678901234ULL;
  state.config_json = R"({"lr":0.001,"model":"x"})";
  state.metrics_json = R"([{"epoch":1,"loss":0.1}])";
  const std::string path = state_path("checkpoint.safetensors");
  nn::save_train_state(path, model_a, opt_a, state);
  CHECK_FALSE(fs::exists(path + ".tmp." + std::to_string(::getpid())));

  manual_seed(4);
  nn::Linear model_b(3, 2);
  nn::Adam opt_b(model_b.parameters(), 0.5);
  REQUIRE(model_b.state()[0].second.to_vector<float>() != model_a.state()[0].second.to_vector<float>());
  const nn::TrainState loaded = nn::load_train_state(path, model_b, opt_b);
  CHECK(loaded.epoch == 4);
  CHECK(loaded.global_step == 17);
  CHECK(loaded.rng_seed == 3);
  CHECK(loaded.rng_streams_used == 12345678901234ULL);
  CHECK(nlohmann::json::parse(loaded.config_json) == nlohmann::json::parse(state.config_json));
  CHECK(nlohmann::json::parse(loaded.metrics_json) == nlohmann::json::parse(state.metrics_json));
  for (size_t i = 0; i < model_a.state().size(); ++i)
    CHECK(model_a.state()[i].second.to_vector<float>() == model_b.state()[i].second.to_vector<float>());
  const nn::OptimizerState sa = opt_a.export_state(), sb = opt_b.export_state();
  CHECK(sb.steps == 2);
  CHECK(sb.hyper_parameters == sa.hyper_parameters);
  REQUIRE(sb.tensors.size() == sa.tensors.size());
  for (size_t i = 0; i < sa.tensors.size(); ++i)
    CHECK(sa.tensors[i].second.to_vector<float>() == sb.tensors[i].second.to_vector<float>());
  CHECK(nn::read_train_state(path).global_step == 17);
}

TEST_CASE("non-finite optimizer state is found by name, and a checkpoint holding any is refused on load") {
  manual_seed(3);
  nn::Linear model(3, 2);
  nn::Adam adam(model.parameters(), 0.01);
  for (Tensor& p : model.parameters()) p.set_grad(Tensor::full(p.shape(), 0.5, p.dtype()));
  adam.step();
  CHECK(adam.non_finite_state().empty());
  // Second moments that overflowed: the weights stay finite (the update is 0), the run no longer learns.
  nn::OptimizerState state = adam.export_state();
  for (auto& [name, t] : state.tensors)
    if (name == "state.1.exp_avg_sq") t = Tensor::full(t.shape(), INFINITY, t.dtype());
  adam.import_state(state);
  CHECK(adam.non_finite_state() == "state.1.exp_avg_sq");

  nn::TrainState meta;
  meta.config_json = "{}";
  meta.metrics_json = "[]";
  const std::string path = state_path("diverged.safetensors");
  nn::save_train_state(path, model, adam, meta);
  nn::Linear other(3, 2);
  nn::Adam other_adam(other.parameters(), 0.01);
  CHECK_THROWS_WITH_AS(nn::load_train_state(path, other, other_adam),
                       doctest::Contains("tensor 'optimizer.state.1.exp_avg_sq' holds a NaN or an infinity"),
                       ssl::Error);
}

TEST_CASE("a truncated or mismatched training checkpoint names the file and the tensor") {
  manual_seed(5);
  nn::Linear model(3, 2);
  nn::SGD opt(model.parameters(), 0.1, 0.9);
  for (Tensor p : model.parameters()) p.set_grad(Tensor::ones(p.shape()));
  opt.step();
  const std::string path = state_path("ckpt.safetensors");
  nn::save_train_state(path, model, opt, {});
  std::ifstream in(path, std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};

  const std::string cut = state_path("cut.safetensors");
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() - 4);
  nn::Linear fresh(3, 2);
  nn::SGD fresh_opt(fresh.parameters(), 0.1, 0.9);
  const std::vector<float> before = fresh.state()[0].second.to_vector<float>();
  // The last tensor written is the bias's momentum buffer.
  CHECK_THROWS_WITH_AS(nn::load_train_state(cut, fresh, fresh_opt),
                       doctest::Contains("cut.safetensors: tensor 'optimizer.state.1.momentum_buffer'"),
                       ssl::Error);

  nn::Linear wider(3, 5);
  nn::SGD wider_opt(wider.parameters(), 0.1, 0.9);
  CHECK_THROWS_WITH_AS(nn::load_train_state(path, wider, wider_opt),
                       doctest::Contains("ckpt.safetensors: tensor 'model.weight' is float32 [2, 3]"),
                       ssl::Error);
  nn::Adam wrong_kind(fresh.parameters(), 0.1);
  CHECK_THROWS_WITH_AS(nn::load_train_state(path, fresh, wrong_kind), doctest::Contains("is for 'sgd'"),
                       ssl::Error);
  CHECK(fresh.state()[0].second.to_vector<float>() == before);  // nothing was copied on failure

  // Counts that are not whole numbers in range are refused, not cast (2.7 was read as 2, -1 as 2^64 - 1).
  nn::Metadata meta;
  const std::map<std::string, Tensor> tensors = nn::load_safetensors(path, &meta);
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"epoch", "2.7"}, {"global_step", "1e30"}, {"rng", R"({"seed":-1,"streams_used":0})"}}) {
    CAPTURE(key);
    nn::Metadata changed = meta;
    changed[key] = value;
    nn::save_safetensors(state_path("coerced.safetensors"), {tensors.begin(), tensors.end()}, changed);
    CHECK_THROWS_WITH_AS(nn::read_train_state(state_path("coerced.safetensors")),
                         doctest::Contains("; expected a whole number from 0 to"), ssl::Error);
  }

  // An encoder-style file (no training metadata) is not a training checkpoint.
  nn::save_safetensors(state_path("plain.safetensors"), model.state());
  CHECK_THROWS_WITH_AS(nn::read_train_state(state_path("plain.safetensors")),
                       doctest::Contains("not a training checkpoint"), ssl::Error);
}

TEST_CASE("a checkpoint with several named optimizers restores each, or none when one does not match") {
  manual_seed(6);
  nn::Linear first(3, 2), second(2, 4);
  nn::Adam opt_first(first.parameters(), 0.01);
  nn::SGD opt_second(second.parameters(), 0.1, 0.9);
  for (Tensor p : first.parameters()) p.set_grad(Tensor::full(p.shape(), 0.25));
  for (Tensor p : second.parameters()) p.set_grad(Tensor::full(p.shape(), -0.5));
  opt_first.step();
  opt_second.step();
  opt_second.step();
  const std::string path = state_path("two_optimizers.safetensors");
  nn::TrainState state;
  state.epoch = 2;
  nn::save_train_state(path, first, {{"first", &opt_first}, {"second", &opt_second}}, state,
                       "test.format.v1");
  const std::map<std::string, Tensor> stored = nn::load_safetensors(path);
  CHECK(stored.count("optimizer.first.state.0.exp_avg") == 1);
  CHECK(stored.count("optimizer.second.state.1.momentum_buffer") == 1);
  // Names that could not be told apart on load are refused when saving: twice the same, or an unnamed
  // optimizer (key "optimizer") beside named ones ("optimizer.NAME"); so is a null optimizer.
  CHECK_THROWS_WITH_AS(nn::save_train_state(path, first, {{"g", &opt_first}, {"g", &opt_second}}, state),
                       doctest::Contains("two optimizers are named 'g'"), ssl::Error);
  CHECK_THROWS_WITH_AS(nn::save_train_state(path, first, {{"", &opt_first}, {"g", &opt_second}}, state),
                       doctest::Contains("an unnamed optimizer must be the only one"), ssl::Error);
  CHECK_THROWS_WITH_AS(nn::save_train_state(path, first, {{"g", nullptr}}, state),
                       doctest::Contains("optimizer 'g' is null"), ssl::Error);

  // Another kind of run's checkpoint is refused by its format.
  CHECK_THROWS_WITH_AS(nn::read_train_state(path),
                       doctest::Contains("checkpoint format 'test.format.v1', expected 'ssl.train_state.v1' "
                                         "(ssl pretrain)"),
                       ssl::Error);
  CHECK_THROWS_WITH_AS(nn::read_train_state(path, nn::kSganTrainStateFormat),
                       doctest::Contains("expected 'ssl.sgan_train_state.v1' (ssl sgan)"), ssl::Error);
  CHECK(nn::read_train_state(path, "test.format.v1").epoch == 2);

  nn::Linear fresh(3, 2), fresh_second(2, 4);
  nn::Adam fresh_first_opt(fresh.parameters(), 0.5);
  nn::SGD fresh_second_opt(fresh_second.parameters(), 0.7, 0.9);
  nn::Adam wrong_second(fresh_second.parameters(), 0.7);
  const std::vector<float> before = fresh.state()[0].second.to_vector<float>();
  // The first optimizer matches and is imported, the second does not: the first is put back.
  CHECK_THROWS_WITH_AS(
      nn::load_train_state(path, fresh, {{"first", &fresh_first_opt}, {"second", &wrong_second}},
                           "test.format.v1"),
      doctest::Contains("tensors under 'optimizer.second.'"), ssl::Error);
  CHECK(fresh_first_opt.steps_taken() == 0);
  CHECK(fresh_first_opt.lr == 0.5);
  CHECK(fresh.state()[0].second.to_vector<float>() == before);

  nn::load_train_state(path, fresh, {{"first", &fresh_first_opt}, {"second", &fresh_second_opt}},
                       "test.format.v1");
  CHECK(fresh.state()[0].second.to_vector<float>() == first.state()[0].second.to_vector<float>());
  CHECK(fresh_first_opt.steps_taken() == 1);
  CHECK(fresh_second_opt.steps_taken() == 2);
  CHECK(fresh_second_opt.lr == 0.1);
  const nn::OptimizerState a = opt_second.export_state(), b = fresh_second_opt.export_state();
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i)
    CHECK(a.tensors[i].second.to_vector<float>() == b.tensors[i].second.to_vector<float>());
}
