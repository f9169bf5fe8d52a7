// The losses of core/ops_nn.h (label-smoothed cross-entropy, binary cross-entropy with logits, MSE): values
// against loop-by-loop references, gradients against finite differences in float64. Also conv2d's routing
// of depthwise shapes to their direct kernel, through autograd.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/ops_nn.h"
#include "support/gradcheck.h"

using namespace ssl;
using ssl::test::check_gradients;
using ssl::test::labels;
using ssl::test::rand64;
using Ts = std::vector<Tensor>;

namespace {
// PyTorch's definition, row by row: (1 − ε)(−log p[target]) + ε · mean_c(−log p_c), averaged over rows.
double smoothed_ce_reference(const Tensor& logits, const std::vector<int64_t>& targets, double eps) {
  const auto x = logits.to_vector<double>();
  const int64_t rows = logits.size(0), cols = logits.size(1);
  double total = 0;
  for (int64_t r = 0; r < rows; ++r) {
    double m = -std::numeric_limits<double>::infinity(), s = 0;
    for (int64_t c = 0; c < cols; ++c) m = std::max(m, x[r * cols + c]);
    for (int64_t c = 0; c < cols; ++c) s += std::exp(x[r * cols + c] - m);
    const double lse = m + std::log(s);
    double uniform = 0;
    for (int64_t c = 0; c < cols; ++c) uniform += (lse - x[r * cols + c]) / double(cols);
    total += (1 - eps) * (lse - x[r * cols + targets[r]]) + eps * uniform;
  }
  return total / double(rows);
}
}  // namespace

TEST_CASE("cross_entropy with label smoothing: value and gradient") {
  const std::vector<int64_t> t = {1, 0, 4, 2};
  const Tensor logits = rand64({4, 5}, 1, -3, 3);
  for (double eps : {0.0, 0.1, 0.5, 1.0}) {
    CAPTURE(eps);
    const double got = cross_entropy(logits, labels(t), eps).item();
    CHECK(std::fabs(got - smoothed_ce_reference(logits, t, eps)) <= 1e-12);
    check_gradients("cross_entropy label_smoothing",
                    [&](const Ts& x) { return cross_entropy(x[0], labels(t), eps); },
                    {rand64({4, 5}, 2, -3, 3)});
  }
  // ε = 0 is the plain op, bit for bit; ε > 0 differs from it.
  CHECK(cross_entropy(logits, labels(t), 0.0).item() == cross_entropy(logits, labels(t)).item());
  CHECK(cross_entropy(logits, labels(t), 0.1).item() != cross_entropy(logits, labels(t)).item());
  CHECK_THROWS_AS(cross_entropy(logits, labels(t), -0.1), Error);
  CHECK_THROWS_AS(cross_entropy(logits, labels(t), 1.5), Error);
}

TEST_CASE("binary_cross_entropy_with_logits: value, stability and gradient") {
  const Tensor x = rand64({3, 4}, 3, -4, 4), t = rand64({3, 4}, 4, 0, 1);
  const auto xv = x.to_vector<double>(), tv = t.to_vector<double>();
  double ref = 0;  // the textbook form, fine at moderate x
  for (size_t i = 0; i < xv.size(); ++i) {
    const double p = 1 / (1 + std::exp(-xv[i]));
    ref -= tv[i] * std::log(p) + (1 - tv[i]) * std::log(1 - p);
  }
  ref /= double(xv.size());
  CHECK(std::fabs(binary_cross_entropy_with_logits(x, t).item() - ref) <= 1e-12);
  // float32 logits far beyond exp's range: the textbook form gives inf/NaN, the stable one the exact
  // values (|x| for a wrong-sided target, 0 for a right one): mean(1000, 0, 0, 1000) = 500.
  const Tensor big = Tensor::from_vector(std::vector<float>{1000.f, -1000.f, 1000.f, -1000.f}, {4});
  const Tensor tb = Tensor::from_vector(std::vector<float>{0.f, 0.f, 1.f, 1.f}, {4});
  CHECK(binary_cross_entropy_with_logits(big, tb).item() == doctest::Approx(500.0));
  check_gradients("binary_cross_entropy_with_logits",
                  [](const Ts& a) { return binary_cross_entropy_with_logits(a[0], a[1]); },
                  {rand64({3, 4}, 5, -4, 4), rand64({3, 4}, 6, 0, 1)});
  check_gradients("binary_cross_entropy_with_logits of a transposed view",
                  [](const Ts& a) { return binary_cross_entropy_with_logits(a[0].t(), a[1]); },
                  {rand64({4, 3}, 7, -4, 4), rand64({3, 4}, 8, 0, 1)});
  CHECK_THROWS_AS(binary_cross_entropy_with_logits(rand64({3, 4}, 9), rand64({4, 3}, 10)), Error);
}

TEST_CASE("mse_loss: value and gradient") {
  const Tensor a = rand64({2, 3, 2}, 11), b = rand64({2, 3, 2}, 12);
  const auto av = a.to_vector<double>(), bv = b.to_vector<double>();
  double ref = 0;
  for (size_t i = 0; i < av.size(); ++i) ref += (av[i] - bv[i]) * (av[i] - bv[i]);
  CHECK(std::fabs(mse_loss(a, b).item() - ref / double(av.size())) <= 1e-12);
  check_gradients("mse_loss", [](const Ts& x) { return mse_loss(x[0], x[1]); },
                  {rand64({2, 3, 2}, 13), rand64({2, 3, 2}, 14)});
  CHECK_THROWS_AS(mse_loss(rand64({3}, 15), rand64({4}, 16)), Error);
}

TEST_CASE("conv2d routes depthwise shapes to the direct kernel: gradients") {
  check_gradients("conv2d depthwise 3x3 stride 2 with bias",
                  [](const Ts& x) {
                    return conv2d(x[0], x[1], x[2], {2, 1, 4});
                  },
                  {rand64({2, 4, 7, 6}, 17), rand64({4, 1, 3, 3}, 18), rand64({4}, 19)});
  check_gradients("conv2d depthwise 3x3 stride 1 pad 1, 6x6",
                  [](const Ts& x) {
                    return conv2d(x[0], x[1], Tensor(), {1, 1, 3});
                  },
                  {rand64({2, 3, 6, 6}, 20), rand64({3, 1, 3, 3}, 21)});
  check_gradients("conv2d depthwise 5x5 pad 2",
                  [](const Ts& x) {
                    return conv2d(x[0], x[1], x[2], {1, 2, 2});
                  },
                  {rand64({1, 2, 6, 5}, 22), rand64({2, 1, 5, 5}, 23), rand64({2}, 24)});
}
