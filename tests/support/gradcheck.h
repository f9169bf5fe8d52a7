// Finite-difference gradient checks in float64.
//
// L = Σ r ⊙ f(inputs) with a fixed random r, so every output element matters with a different weight.
// The analytic dL/dx from backward() is compared with the central difference (L(x+h) − L(x−h)) / 2h for
// every element of every input.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "core/ops.h"

namespace ssl::test {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

// Class labels as an int64 tensor [n], for the losses and the index ops.
inline Tensor labels(std::vector<int64_t> v) { return Tensor::from_vector(v, {int64_t(v.size())}); }

// Random float64 leaf tensors in [lo, hi), requiring grad.
inline Tensor rand64(const Shape& shape, uint64_t seed, double lo = -1, double hi = 1) {
  Generator gen(seed);
  Tensor t = Tensor::uniform(shape, lo, hi, gen, DType::f64);
  t.set_requires_grad(true);
  return t;
}

// Given float64 values (points a test picks, such as both sides of a branch) as a leaf requiring grad.
inline Tensor leaf64(const std::vector<double>& values, const Shape& shape) {
  Tensor t = Tensor::from_vector<double>(values, shape);
  t.set_requires_grad(true);
  return t;
}

inline double projected_loss(const Fn& f, const std::vector<Tensor>& inputs, const Tensor& r) {
  NoGradGuard no_grad;
  return sum(mul(f(inputs), r)).item();
}

// The largest |a − b| over the elements, in float64, and infinite where either side is NaN.
inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const std::vector<double> u = a.to_vector<double>(), v = b.to_vector<double>();
  double m = 0;
  for (size_t i = 0; i < u.size(); ++i) {
    const double d = std::abs(u[i] - v[i]);
    m = std::isnan(d) ? INFINITY : std::max(m, d);
  }
  return m;
}

// One element whose analytic gradient disagrees with the central difference.
struct GradientMismatch {
  size_t input;
  int64_t element;
  double analytic, numeric;
};

// Every element of every input that requires grad where |analytic − numeric| > atol + rtol·|numeric|, or
// either is NaN. Requires at least one such input, and a float64 gradient of its shape for each.
inline std::vector<GradientMismatch> gradient_mismatches(const std::string& name, const Fn& f,
                                                         std::vector<Tensor> inputs, double h = 1e-6,
                                                         double atol = 1e-7, double rtol = 1e-6) {
  for (Tensor& x : inputs) {
    REQUIRE(x.dtype() == DType::f64);
    REQUIRE(x.is_contiguous());
    x.zero_grad();
  }
  const Tensor y = f(inputs);
  Generator gen(12345);
  const Tensor r = Tensor::uniform(y.shape(), 0.5, 1.5, gen, DType::f64);
  sum(mul(y, r)).backward();

  std::vector<GradientMismatch> mismatches;
  size_t checked = 0;
  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor& x = inputs[k];
    if (!x.requires_grad()) continue;  // a constant of the function (a target, a mask)
    REQUIRE_MESSAGE(x.numel() > 0, name, ": input ", k, " has no elements to check");
    REQUIRE_MESSAGE(x.grad().defined(), name, ": input ", k, " received no gradient");
    REQUIRE_MESSAGE(x.grad().shape() == x.shape(), name, ": input ", k, " of shape ", x.shape(),
                    " received a gradient of shape ", x.grad().shape());
    REQUIRE_MESSAGE(x.grad().dtype() == DType::f64, name, ": input ", k, " received a ", x.grad().dtype(),
                    " gradient");
    ++checked;
    const std::vector<double> analytic = x.grad().to_vector<double>();
    double* p = x.data<double>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double saved = p[i];
      p[i] = saved + h;
      const double up = projected_loss(f, inputs, r);
      p[i] = saved - h;
      const double down = projected_loss(f, inputs, r);
      p[i] = saved;
      const double numeric = (up - down) / (2 * h);
      // Written so that a NaN on either side is a mismatch (every comparison with NaN is false).
      if (!(std::abs(analytic[size_t(i)] - numeric) <= atol + rtol * std::abs(numeric)))
        mismatches.push_back({k, i, analytic[size_t(i)], numeric});
    }
  }
  REQUIRE_MESSAGE(checked > 0, name, ": no input requires grad, so nothing was checked");
  return mismatches;
}

// Fails the test where gradient_mismatches finds any, reporting the first few.
inline void check_gradients(const std::string& name, const Fn& f, std::vector<Tensor> inputs, double h = 1e-6,
                            double atol = 1e-7, double rtol = 1e-6) {
  INFO("gradient check: ", name);
  const std::vector<GradientMismatch> mismatches =
      gradient_mismatches(name, f, std::move(inputs), h, atol, rtol);
  for (size_t m = 0; m < mismatches.size() && m < 5; ++m) {
    const GradientMismatch& bad = mismatches[m];
    FAIL_CHECK(name << ": input " << bad.input << " element " << bad.element << ": analytic " << bad.analytic
                    << " vs numeric " << bad.numeric);
  }
  CHECK_MESSAGE(mismatches.empty(), name, ": ", mismatches.size(), " gradient mismatches");
}

}  // namespace ssl::test
