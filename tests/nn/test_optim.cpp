// Each optimizer's update against a step computed by hand.
#include <doctest/doctest.h>

#include <cmath>

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

TEST_CASE("parameters without a gradient are left alone") {
  Tensor a = param({1.0}), b = param({2.0});
  nn::SGD sgd({a, b}, 0.5);
  set_grad(a, {1.0});
  sgd.step();
  CHECK(a.to_vector<double>()[0] == doctest::Approx(0.5));
  CHECK(b.to_vector<double>()[0] == 2.0);
}
