// The linear probe on hand-made features: it separates separable classes, Top-k counts ranks, and its
// result does not depend on the features' overall scale.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "ssl/linear_probe.h"

using namespace ssl;

namespace {
// Three classes, each a noisy cluster around its own corner in 8 dimensions; feature 7 is constant.
std::pair<Tensor, Tensor> clusters(int64_t per_class, double scale) {
  Generator gen(11);
  const Tensor noise = Tensor::normal({3 * per_class, 8}, 0, 0.3, gen);
  std::vector<float> x = noise.to_vector<float>();
  std::vector<int64_t> y(size_t(3 * per_class));
  for (int64_t i = 0; i < 3 * per_class; ++i) {
    y[size_t(i)] = i % 3;
    x[size_t(i * 8 + y[size_t(i)])] += 2.f;
    x[size_t(i * 8 + 7)] = 5.f;
    for (int64_t j = 0; j < 8; ++j) x[size_t(i * 8 + j)] *= float(scale);
  }
  return {Tensor::from_vector(x, {3 * per_class, 8}), Tensor::from_vector(y, {3 * per_class})};
}
}  // namespace

TEST_CASE("linear probe: separable clusters are classified, and Top-5 of 3 classes is always a hit") {
  const auto [x, y] = clusters(60, 1.0);
  const LinearProbe probe(x, y, 3, {.epochs = 100, .lr = 0.05, .show_progress = false});
  const TopK t = probe.evaluate(x, y);
  CHECK(t.top1 > 0.97);
  CHECK(t.top5 == 1.0);
}

TEST_CASE("linear probe: options out of range are refused, naming them") {
  const auto [x, y] = clusters(6, 1.0);
  for (const LinearProbeOptions bad : {LinearProbeOptions{.epochs = 0}, LinearProbeOptions{.batch_size = 0},
                                       LinearProbeOptions{.batch_size = -4}, LinearProbeOptions{.lr = 0},
                                       LinearProbeOptions{.weight_decay = -1}})
    CHECK_THROWS_WITH_AS(LinearProbe(x, y, 3, bad), doctest::Contains("LinearProbe: expected epochs >= 1"),
                         ssl::Error);
  CHECK_THROWS_WITH_AS(LinearProbe(x, y, 2), doctest::Contains("LinearProbe: label 2 of row "), ssl::Error);
  CHECK_THROWS_WITH_AS(LinearProbe(mul(x, std::nan("")), y, 3),
                       doctest::Contains("LinearProbe: the features of row 0 hold a NaN or an infinity"),
                       ssl::Error);
}

TEST_CASE("linear probe: features of any overall scale give the same predictions") {
  // A randomly initialised deep encoder in eval mode can give features as small as 1e-17 (MobileNetV1); a
  // fixed variance floor would flatten them to zero and the probe would predict one class.
  const LinearProbeOptions options{.epochs = 100, .lr = 0.05, .show_progress = false};
  const auto [x, y] = clusters(60, 1.0);
  const LinearProbe probe(x, y, 3, options);
  const std::vector<float> expected = probe.scores(x).to_vector<float>();
  for (const double scale : {1e-13, 1e-17, 1e-40, 1e12}) {  // 1e-40: every feature subnormal
    CAPTURE(scale);
    const auto [scaled, y_scaled] = clusters(60, scale);
    const LinearProbe scaled_probe(scaled, y_scaled, 3, options);
    CHECK(scaled_probe.evaluate(scaled, y_scaled).top1 == doctest::Approx(probe.evaluate(x, y).top1));
    CHECK(scaled_probe.evaluate(scaled, y_scaled).top1 > 0.97);
  }
  // Scaled by a power of two, the features are standardised exactly as at unit scale: the same scores.
  for (const double scale : {0x1p-60, 0x1p-21, 0x1p30}) {
    CAPTURE(scale);
    const auto [scaled, y_scaled] = clusters(60, scale);
    CHECK(LinearProbe(scaled, y_scaled, 3, options).scores(scaled).to_vector<float>() == expected);
  }
}

TEST_CASE("topk accuracy: the rank of the true class decides") {
  // Sample 0: true class 2 scores highest. Sample 1: true class 0 is third of six.
  const Tensor scores = Tensor::from_vector<float>({0, 1, 5, 0, 0, 0, 1, 3, 2, 0, 0, 0}, {2, 6});
  const TopK t = topk_accuracy(scores, Tensor::from_vector<int64_t>({2, 0}, {2}));
  CHECK(t.top1 == 0.5);
  CHECK(t.top5 == 1.0);
  const TopK wrong = topk_accuracy(scores, Tensor::from_vector<int64_t>({0, 3}, {2}));
  CHECK(wrong.top1 == 0.0);
}

TEST_CASE("topk accuracy: ties go to the lower class index, as arg-max; NaN scores are refused") {
  // A model that scores every class alike predicts class 0 and ranks the classes in index order.
  const Tensor flat = Tensor::zeros({3, 10});
  const TopK t = topk_accuracy(flat, Tensor::from_vector<int64_t>({0, 4, 7}, {3}));
  CHECK(t.top1 == doctest::Approx(1.0 / 3));  // only the sample of class 0
  CHECK(t.top5 == doctest::Approx(2.0 / 3));  // classes 0 and 4, not 7
  const Tensor nan_scores = Tensor::from_vector<float>({0, NAN, 1, 2}, {2, 2});
  CHECK_THROWS_WITH_AS(topk_accuracy(nan_scores, Tensor::from_vector<int64_t>({0, 1}, {2})),
                       doctest::Contains("sample 0 has a NaN score for class 1"), ssl::Error);
}

TEST_CASE("linear probe: a diverging fit is an error, not an accuracy") {
  const auto [x, y] = clusters(60, 1.0);
  CHECK_THROWS_WITH_AS(LinearProbe(x, y, 3, {.epochs = 5, .lr = 1e30, .show_progress = false}),
                       doctest::Contains("linear probe: the loss became"), ssl::Error);
}
