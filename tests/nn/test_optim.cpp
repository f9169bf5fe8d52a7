// Each optimizer's update against a step computed by hand.
#include <doctest/doctest.h>

#include <cmath>

#include "core/ops.h"
#include "nn/optim.h"

using namespace ssl;

namespace {
Tensor param(std::vector<double> v) {
  return Tensor::from_vector(v, {int64_t(v.size())}).set_requires_grad();
}
void set_grad(Tensor& p, std::vector<double> g) { p.set_grad(Tensor::from_vector(g, {int64_t(g.size())})); }
}  // namespace

TEST_CASE("SGD with momentum, weight decay and Nesterov against hand-computed steps") {
  Tensor p = param({1.0, -2.0});
  nn::SGD sgd({p}, /*lr=*/0.1, /*momentum=*/0.9, /*weight_decay=*/0.01);
  set_grad(p, {0.5, 0.25});
  sgd.step();
  // d = g + 0.01 p = (0.51, 0.23); buf = d; p -= 0.1 d
  auto v = p.to_vector<double>();
  CHECK(v[0] == doctest::Approx(1.0 - 0.051));
  CHECK(v[1] == doctest::Approx(-2.0 - 0.023));
  set_grad(p, {0.5, 0.25});
  const double p0 = v[0];
  sgd.step();
  // d = 0.5 + 0.01 p0; buf = 0.9·0.51 + d; p -= 0.1 buf
  const double d = 0.5 + 0.01 * p0, buf = 0.9 * 0.51 + d;
  CHECK(p.to_vector<double>()[0] == doctest::Approx(p0 - 0.1 * buf));

  Tensor q = param({1.0});
  nn::SGD nesterov({q}, 0.1, 0.9, 0.0, true);
  set_grad(q, {1.0});
  nesterov.step();  // buf = 1; step = 1 + 0.9·1
  CHECK(q.to_vector<double>()[0] == doctest::Approx(1.0 - 0.1 * 1.9));
}

TEST_CASE("Adam against hand-computed steps") {
  Tensor p = param({1.0});
  nn::Adam adam({p}, 0.01, 0.9, 0.999, 1e-8, 0.1);
  set_grad(p, {2.0});
  adam.step();
  // d = 2 + 0.1 = 2.1; m = 0.21, v = 0.001·4.41; m̂ = 2.1, v̂ = 4.41; p -= 0.01 · 2.1 / (2.1 + 1e-8)
  CHECK(p.to_vector<double>()[0] == doctest::Approx(1.0 - 0.01 * 2.1 / (2.1 + 1e-8)));
  set_grad(p, {-1.0});
  const double p1 = p.to_vector<double>()[0];
  adam.step();
  const double d = -1.0 + 0.1 * p1;
  const double m = 0.9 * 0.21 + 0.1 * d, vv = 0.999 * 0.001 * 4.41 + 0.001 * d * d;
  const double mh = m / (1 - 0.81), vh = vv / (1 - 0.999 * 0.999);
  CHECK(p.to_vector<double>()[0] == doctest::Approx(p1 - 0.01 * mh / (std::sqrt(vh) + 1e-8)));
}

TEST_CASE("Adam's bias correction counts each parameter's own updates") {
  // b gets its first gradient at the optimizer's second step: its first update is a first step,
  // m̂ = g and v̂ = g², so it moves by lr·g/(|g| + eps), as in PyTorch (state['step'] per parameter).
  Tensor a = param({1.0}), b = param({2.0});
  nn::Adam adam({a, b}, 0.1);
  set_grad(a, {1.0});
  adam.step();
  set_grad(b, {0.5});
  adam.step();
  CHECK(b.to_vector<double>()[0] == doctest::Approx(2.0 - 0.1 * 0.5 / (0.5 + 1e-8)));
  CHECK(adam.steps_taken() == 2);

  // A state saved without per-parameter counts (before they existed) gives every parameter the
  // optimizer's count, which is what it used then.
  nn::OptimizerState old = adam.export_state();
  std::erase_if(old.tensors, [](const auto& named) { return named.first.ends_with(".step"); });
  nn::Adam resumed({param({1.0}), param({2.0})}, 0.1);
  resumed.import_state(old);
  for (const auto& [name, t] : resumed.export_state().tensors)
    if (name.ends_with(".step")) CHECK_MESSAGE(t.to_vector<double>()[0] == 2, name);
}

TEST_CASE("parameters without a gradient are left alone") {
  Tensor a = param({1.0}), b = param({2.0});
  nn::SGD sgd({a, b}, 0.5);
  set_grad(a, {1.0});
  sgd.step();
  CHECK(a.to_vector<double>()[0] == doctest::Approx(0.5));
  CHECK(b.to_vector<double>()[0] == 2.0);
}

TEST_CASE("a gradient of another shape or dtype than its parameter is refused, naming both") {
  Tensor p = param({1.0, 2.0});
  nn::SGD sgd({p}, 0.5);
  CHECK_THROWS_WITH_AS(p.set_grad(Tensor::ones({2}, DType::f32)), doctest::Contains("set_grad"), ssl::Error);
  // The step checks too, for a gradient installed behind set_grad's back.
  p.impl()->grad = Tensor::ones({2}, DType::f32).impl_ptr();
  CHECK_THROWS_WITH_AS(
      sgd.step(), doctest::Contains("gradient of shape [2] (float32) for a parameter of shape [2] (float64)"),
      ssl::Error);
  p.impl()->grad = Tensor::ones({3}, DType::f64).impl_ptr();
  CHECK_THROWS_WITH_AS(sgd.step(), doctest::Contains("gradient of shape [3] (float64)"), ssl::Error);
}

TEST_CASE("a step writes its parameters in place: a graph that saved one can no longer go backward") {
  const auto stale_backward = [](auto make_optimizer) {
    Tensor w = param({1.0, 2.0}), x = param({3.0, 4.0});
    auto optimizer = make_optimizer(std::vector<Tensor>{w});
    const Tensor loss = sum(mul(w, x));  // mul saves w for x's gradient
    set_grad(w, {1.0, 1.0});
    optimizer.step();
    return loss;
  };
  CHECK_THROWS_WITH_AS(stale_backward([](std::vector<Tensor> p) { return nn::SGD(p, 0.1, 0.9); }).backward(),
                       doctest::Contains("'mul'"), ssl::Error);
  CHECK_THROWS_WITH_AS(stale_backward([](std::vector<Tensor> p) { return nn::Adam(p, 0.1); }).backward(),
                       doctest::Contains("'mul'"), ssl::Error);
  CHECK_THROWS_WITH_AS(stale_backward([](std::vector<Tensor> p) { return nn::LARS(p, 0.1); }).backward(),
                       doctest::Contains("'mul'"), ssl::Error);
}

TEST_CASE("AdamW decays the weights directly, outside the moments") {
  Tensor p = param({2.0});
  nn::AdamW adamw({p}, 0.1, 0.9, 0.999, 1e-8, 0.5);
  set_grad(p, {3.0});
  adamw.step();
  // p ← p·(1 − 0.1·0.5) = 1.9; then the Adam step on g = 3: m̂ = 3, v̂ = 9, so −0.1 · 3/(3 + 1e-8)
  CHECK(p.to_vector<double>()[0] == doctest::Approx(1.9 - 0.1 * 3.0 / (3.0 + 1e-8)));
}

TEST_CASE("LARS scales weight steps by the trust ratio and leaves 1-D parameters unadapted") {
  Tensor w = Tensor::from_vector<double>({3.0, 4.0}, {1, 2}).set_requires_grad();  // ‖w‖ = 5
  Tensor b = param({1.0});
  nn::LARS lars({w, b}, /*lr=*/0.1, /*momentum=*/0.9, /*weight_decay=*/0.1, /*eta=*/0.001);
  w.set_grad(Tensor::from_vector<double>({0.0, 1.0}, {1, 2}));
  set_grad(b, {2.0});
  lars.step();
  // w: g' = g + 0.1 w = (0.3, 1.4); trust = 0.001 · 5 / ‖g'‖; buf = 0.1 · trust · g'; w −= buf
  const double gn = std::sqrt(0.3 * 0.3 + 1.4 * 1.4), trust = 0.001 * 5 / gn;
  const auto v = w.to_vector<double>();
  CHECK(v[0] == doctest::Approx(3.0 - 0.1 * trust * 0.3));
  CHECK(v[1] == doctest::Approx(4.0 - 0.1 * trust * 1.4));
  // b: excluded, so a plain momentum-SGD step without decay: b −= 0.1 · 2
  CHECK(b.to_vector<double>()[0] == doctest::Approx(1.0 - 0.2));
  set_grad(b, {2.0});
  w.zero_grad();
  lars.step();  // buf = 0.9 · 0.2 + 0.2
  CHECK(b.to_vector<double>()[0] == doctest::Approx(0.8 - 0.38));
}

TEST_CASE("an invalid hyper-parameter is refused with the values given") {
  Tensor p = param({1.0});
  CHECK_THROWS_WITH_AS(nn::SGD({p}, -0.1), doctest::Contains("got lr -0.1, momentum 0, weight decay 0"),
                       ssl::Error);
  CHECK_THROWS_WITH_AS(nn::Adam({p}, 1e-3, 0.9, 1.0), doctest::Contains("betas 0.9, 1,"), ssl::Error);
  CHECK_THROWS_WITH_AS(nn::AdamW({p}, 1e-3, 0.9, 0.999, 1e-8, -0.5), doctest::Contains("weight decay -0.5"),
                       ssl::Error);
  CHECK_THROWS_WITH_AS(nn::LARS({p}, 0.1, 0.9, 0.0, 0.0), doctest::Contains("eta 0"), ssl::Error);
  CHECK_NOTHROW(nn::Adam({p}, 0.0));  // lr 0 is allowed: a warm-up starts there
  // The update is written through the parameter's storage in order, so a strided view is refused.
  Tensor view = Tensor::zeros({2, 3}).transpose(0, 1);
  CHECK_THROWS_WITH_AS(nn::SGD({p, view}, 0.1),
                       doctest::Contains("parameter 1 of shape [3, 2] is not contiguous"), ssl::Error);
}

TEST_CASE("gradient clipping by global norm") {
  Tensor a = param({3.0}), b = param({4.0});
  set_grad(a, {3.0});
  set_grad(b, {4.0});
  CHECK(nn::clip_grad_norm({a, b}, 1.0) == doctest::Approx(5.0));
  CHECK(a.grad().to_vector<double>()[0] == doctest::Approx(0.6).epsilon(1e-5));
  CHECK(b.grad().to_vector<double>()[0] == doctest::Approx(0.8).epsilon(1e-5));
  CHECK(nn::clip_grad_norm({a, b}, 10.0) ==
        doctest::Approx(1.0).epsilon(1e-5));  // below the limit: unchanged
  CHECK(a.grad().to_vector<double>()[0] == doctest::Approx(0.6).epsilon(1e-5));
}
