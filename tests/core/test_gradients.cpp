// Every differentiable op of core/ops.h, checked against finite differences in float64. One table of
// cases: each names the op, its inputs (shapes and value ranges) and how the op is applied, including
// broadcasting and non-contiguous views.
#include <doctest/doctest.h>

#include "support/gradcheck.h"

using namespace ssl;
using ssl::test::check_gradients;
using ssl::test::labels;
using ssl::test::leaf64;
using ssl::test::max_abs_diff;
using ssl::test::rand64;
using Ts = std::vector<Tensor>;

namespace {
Tensor positive(const Shape& s, uint64_t seed) { return rand64(s, seed, 0.5, 2.0); }
}  // namespace

TEST_CASE("elementwise binary ops with broadcasting") {
  check_gradients("add", [](const Ts& x) { return add(x[0], x[1]); }, {rand64({3, 4}, 1), rand64({3, 4}, 2)});
  check_gradients("add broadcast", [](const Ts& x) { return add(x[0], x[1]); },
                  {rand64({2, 3, 4}, 1), rand64({3, 1}, 2)});
  check_gradients("sub broadcast", [](const Ts& x) { return sub(x[0], x[1]); },
                  {rand64({4}, 3), rand64({2, 3, 4}, 4)});
  check_gradients("mul broadcast", [](const Ts& x) { return mul(x[0], x[1]); },
                  {rand64({2, 1, 4}, 5), rand64({3, 1}, 6)});
  check_gradients("div broadcast", [](const Ts& x) { return div(x[0], x[1]); },
                  {rand64({2, 3}, 7), positive({3}, 8)});
  check_gradients("scalar add/mul", [](const Ts& x) { return mul(add(x[0], 0.7), -1.3); }, {rand64({5}, 9)});
  check_gradients("transposed operand", [](const Ts& x) { return mul(x[0].t(), x[1]); },
                  {rand64({4, 3}, 10), rand64({3, 4}, 11)});
}

TEST_CASE("elementwise unary ops") {
  check_gradients("neg", [](const Ts& x) { return neg(x[0]); }, {rand64({3, 2}, 1)});
  check_gradients("exp", [](const Ts& x) { return exp(x[0]); }, {rand64({3, 2}, 2)});
  check_gradients("log", [](const Ts& x) { return log(x[0]); }, {positive({3, 2}, 3)});
  check_gradients("pow", [](const Ts& x) { return pow(x[0], 2.5); }, {positive({4}, 4)});
  check_gradients("pow 3 of any sign", [](const Ts& x) { return pow(x[0], 3); }, {rand64({5}, 8)});
  check_gradients("pow -1.5", [](const Ts& x) { return pow(x[0], -1.5); }, {positive({4}, 9)});
  check_gradients("sqrt", [](const Ts& x) { return sqrt(x[0]); }, {positive({4}, 5)});
  check_gradients("relu", [](const Ts& x) { return relu(x[0]); }, {rand64({4, 5}, 6)});
  check_gradients("leaky_relu", [](const Ts& x) { return leaky_relu(x[0], 0.2); }, {rand64({4, 5}, 7)});
  check_gradients("tanh", [](const Ts& x) { return tanh(x[0]); }, {rand64({4, 5}, 8, -3, 3)});
  check_gradients("sigmoid", [](const Ts& x) { return sigmoid(x[0]); }, {rand64({4, 5}, 9, -5, 5)});
  check_gradients("unary on a strided view", [](const Ts& x) { return exp(x[0].slice(1, 0, 5, 2)); },
                  {rand64({3, 5}, 10)});
}

TEST_CASE("reductions") {
  check_gradients("sum all", [](const Ts& x) { return sum(x[0]); }, {rand64({3, 4}, 1)});
  check_gradients("sum dim 1", [](const Ts& x) { return sum(x[0], {1}); }, {rand64({2, 3, 4}, 2)});
  check_gradients("sum dims 0,2 keepdim",
                  [](const Ts& x) {
                    return sum(x[0], {0, 2}, true);
                  },
                  {rand64({2, 3, 4}, 3)});
  check_gradients("sum of a permuted view",
                  [](const Ts& x) {
                    return sum(x[0].permute({2, 0, 1}), {1});
                  },
                  {rand64({2, 3, 4}, 4)});
  check_gradients("mean dims", [](const Ts& x) { return mean(x[0], {-1}); }, {rand64({3, 5}, 5)});
  check_gradients("mean of all", [](const Ts& x) { return mean(x[0]); }, {rand64({3, 5}, 8)});
  check_gradients("max dim", [](const Ts& x) { return max(x[0], 1); }, {rand64({3, 5, 2}, 6)});
  check_gradients("max keepdim", [](const Ts& x) { return max(x[0], 0, true); }, {rand64({4, 3}, 7)});
}

TEST_CASE("matmul and linear") {
  check_gradients("matmul 2d", [](const Ts& x) { return matmul(x[0], x[1]); },
                  {rand64({3, 4}, 1), rand64({4, 5}, 2)});
  check_gradients("matmul transposed views", [](const Ts& x) { return matmul(x[0].t(), x[1].t()); },
                  {rand64({4, 3}, 3), rand64({5, 4}, 4)});
  check_gradients("matmul batched", [](const Ts& x) { return matmul(x[0], x[1]); },
                  {rand64({2, 3, 4}, 5), rand64({2, 4, 2}, 6)});
  check_gradients("matmul [..,M,K]@[K,N]", [](const Ts& x) { return matmul(x[0], x[1]); },
                  {rand64({2, 3, 4}, 7), rand64({4, 2}, 8)});
  check_gradients("linear", [](const Ts& x) { return linear(x[0], x[1], x[2]); },
                  {rand64({5, 4}, 9), rand64({3, 4}, 10), rand64({3}, 11)});
  check_gradients("linear without bias", [](const Ts& x) { return linear(x[0], x[1]); },
                  {rand64({5, 4}, 12), rand64({3, 4}, 13)});
}

TEST_CASE("views") {
  check_gradients("reshape",
                  [](const Ts& x) {
                    return mul(x[0].reshape({4, -1}), 2.0);
                  },
                  {rand64({2, 6}, 1)});
  check_gradients("reshape of a transpose", [](const Ts& x) { return x[0].t().reshape({-1}); },
                  {rand64({3, 4}, 2)});
  check_gradients("permute",
                  [](const Ts& x) {
                    return x[0].permute({2, 0, 1}).contiguous();
                  },
                  {rand64({2, 3, 4}, 3)});
  check_gradients("slice with step", [](const Ts& x) { return x[0].slice(1, 1, 6, 2).clone(); },
                  {rand64({3, 7}, 4)});
  check_gradients("select", [](const Ts& x) { return x[0].select(0, -1).clone(); }, {rand64({3, 4}, 5)});
  check_gradients("expand", [](const Ts& x) { return x[0].expand({3, 2, 4}).clone(); }, {rand64({2, 1}, 6)});
  check_gradients("unsqueeze/squeeze/flatten",
                  [](const Ts& x) { return x[0].unsqueeze(1).squeeze(1).flatten(); }, {rand64({3, 4}, 7)});
  check_gradients("select/unsqueeze/squeeze of a transpose (strided views)",
                  [](const Ts& x) { return x[0].t().select(1, 2).unsqueeze(0).squeeze(0) * 2.0; },
                  {rand64({3, 4}, 8)});
}

TEST_CASE("joining and indexing") {
  check_gradients("cat",
                  [](const Ts& x) {
                    return cat({x[0], x[1]}, 1);
                  },
                  {rand64({2, 3}, 1), rand64({2, 2}, 2)});
  check_gradients("stack",
                  [](const Ts& x) {
                    return stack({x[0], x[1]}, 0);
                  },
                  {rand64({2, 3}, 3), rand64({2, 3}, 4)});
  check_gradients("index_select with repeats",
                  [](const Ts& x) {
                    return index_select(x[0], 1, labels({2, 0, 2}));
                  },
                  {rand64({3, 4, 2}, 5)});
  check_gradients("gather",
                  [](const Ts& x) {
                    return gather(x[0], 1, Tensor::from_vector<int64_t>({0, 2, 1, 1, 0, 0}, {3, 2}));
                  },
                  {rand64({3, 3}, 6)});
  check_gradients("gather dim 0",
                  [](const Ts& x) {
                    return gather(x[0], 0, Tensor::from_vector<int64_t>({2, 0, 1, 2, 2, 0}, {2, 3}));
                  },
                  {rand64({3, 3}, 7)});
  check_gradients("gather middle dim with repeats",
                  [](const Ts& x) {
                    return gather(x[0], 1, Tensor::from_vector<int64_t>({1, 1, 0, 2, 2, 2, 0, 1}, {2, 2, 2}));
                  },
                  {rand64({2, 3, 2}, 8)});
}

TEST_CASE("softmax family and losses") {
  check_gradients("softmax", [](const Ts& x) { return softmax(x[0]); }, {rand64({3, 5}, 1, -3, 3)});
  check_gradients("softmax dim 0", [](const Ts& x) { return softmax(x[0], 0); }, {rand64({4, 3}, 2, -3, 3)});
  check_gradients("log_softmax", [](const Ts& x) { return log_softmax(x[0]); }, {rand64({3, 5}, 3, -3, 3)});
  check_gradients("log_softmax dim 0", [](const Ts& x) { return log_softmax(x[0], 0); },
                  {rand64({4, 3}, 6, -3, 3)});
  check_gradients("cross_entropy",
                  [](const Ts& x) {
                    return cross_entropy(x[0], labels({1, 0, 4}));
                  },
                  {rand64({3, 5}, 4, -3, 3)});
  check_gradients("l2_normalize", [](const Ts& x) { return l2_normalize(x[0]); }, {rand64({4, 3}, 5)});
  check_gradients("l2_normalize dim 0", [](const Ts& x) { return l2_normalize(x[0], 0); },
                  {rand64({4, 3}, 6)});
  // Rows whose norm is below eps are divided by eps instead: rows 0 and 2 here, well inside that branch.
  check_gradients("l2_normalize, rows below eps and above",
                  [](const Ts& x) { return l2_normalize(x[0], -1, 1.0); },
                  {leaf64({0.1, -0.2, 0.3, 2.0, -1.5, 1.0, -0.05, 0.02, 0.1, 1.2, 0.7, -2.2}, {4, 3})});
}

TEST_CASE("convolution") {
  using ssl::Conv2dArgs;
  check_gradients("conv2d 3x3 pad 1 with bias",
                  [](const Ts& x) {
                    return conv2d(x[0], x[1], x[2], {1, 1, 1});
                  },
                  {rand64({2, 3, 5, 4}, 1), rand64({4, 3, 3, 3}, 2), rand64({4}, 3)});
  check_gradients("conv2d stride 2 no bias",
                  [](const Ts& x) {
                    return conv2d(x[0], x[1], Tensor(), {2, 0, 1});
                  },
                  {rand64({1, 2, 7, 6}, 4), rand64({3, 2, 3, 3}, 5)});
  check_gradients("conv2d stride 2 pad 1 with bias",
                  [](const Ts& x) {
                    return conv2d(x[0], x[1], x[2], {2, 1, 1});
                  },
                  {rand64({2, 3, 7, 6}, 16), rand64({4, 3, 3, 3}, 17), rand64({4}, 18)});
  check_gradients("conv2d groups 2",
                  [](const Ts& x) {
                    return conv2d(x[0], x[1], x[2], {1, 1, 2});
                  },
                  {rand64({2, 4, 4, 4}, 6), rand64({6, 2, 3, 3}, 7), rand64({6}, 8)});
  check_gradients("conv2d depthwise",
                  [](const Ts& x) {
                    return conv2d(x[0], x[1], Tensor(), {1, 1, 3});
                  },
                  {rand64({1, 3, 5, 5}, 9), rand64({3, 1, 3, 3}, 10)});
  check_gradients("conv2d 1x1", [](const Ts& x) { return conv2d(x[0], x[1], x[2]); },
                  {rand64({2, 3, 3, 3}, 11), rand64({5, 3, 1, 1}, 12), rand64({5}, 13)});
  check_gradients("conv2d of a non-contiguous input",
                  [](const Ts& x) {
                    return conv2d(x[0].permute({0, 1, 3, 2}), x[1], Tensor(), {1, 1, 1});
                  },
                  {rand64({1, 2, 4, 5}, 14), rand64({2, 2, 3, 3}, 15)});
}

TEST_CASE("pooling") {
  check_gradients("max_pool2d 2x2", [](const Ts& x) { return max_pool2d(x[0], 2); },
                  {rand64({2, 3, 4, 6}, 1)});
  check_gradients("max_pool2d 3x3 stride 2 pad 1", [](const Ts& x) { return max_pool2d(x[0], 3, 2, 1); },
                  {rand64({1, 2, 5, 5}, 2)});
  check_gradients("avg_pool2d", [](const Ts& x) { return avg_pool2d(x[0], 2, 1, 1); },
                  {rand64({1, 2, 3, 4}, 3)});
  check_gradients("adaptive_avg_pool2d 1x1", [](const Ts& x) { return adaptive_avg_pool2d(x[0], 1, 1); },
                  {rand64({2, 3, 4, 5}, 4)});
  check_gradients("adaptive_avg_pool2d overlapping bins",
                  [](const Ts& x) { return adaptive_avg_pool2d(x[0], 3, 2); }, {rand64({1, 2, 5, 5}, 5)});
}

TEST_CASE("batch norm and dropout") {
  auto stats = [](int64_t c) {
    return std::pair{Tensor::zeros({c}, DType::f64), Tensor::ones({c}, DType::f64)};
  };
  check_gradients("batch_norm 4-d training",
                  [&](const Ts& x) {
                    auto [rm, rv] = stats(3);
                    return batch_norm(x[0], x[1], x[2], rm, rv, true);
                  },
                  {rand64({4, 3, 2, 3}, 1), rand64({3}, 2, 0.5, 1.5), rand64({3}, 3)});
  check_gradients("batch_norm 2-d training without affine",
                  [&](const Ts& x) { return batch_norm(x[0], Tensor(), Tensor(), Tensor(), Tensor(), true); },
                  {rand64({5, 4}, 4)});
  check_gradients("batch_norm 2-d training",
                  [&](const Ts& x) {
                    auto [rm, rv] = stats(4);
                    return batch_norm(x[0], x[1], x[2], rm, rv, true);
                  },
                  {rand64({5, 4}, 8), rand64({4}, 9, 0.5, 1.5), rand64({4}, 10)});
  check_gradients("batch_norm evaluation without affine",
                  [&](const Ts& x) {
                    Tensor rm = Tensor::from_vector<double>({0.3, -0.1}, {2}),
                           rv = Tensor::from_vector<double>({1.5, 0.25}, {2});
                    return batch_norm(x[0], Tensor(), Tensor(), rm, rv, false);
                  },
                  {rand64({3, 2, 2, 2}, 11)});
  check_gradients("batch_norm evaluation",
                  [&](const Ts& x) {
                    Tensor rm = Tensor::from_vector<double>({0.1, -0.2}, {2}),
                           rv = Tensor::from_vector<double>({0.5, 2.0}, {2});
                    return batch_norm(x[0], x[1], x[2], rm, rv, false);
                  },
                  {rand64({3, 2, 2, 2}, 5), rand64({2}, 6), rand64({2}, 7)});
  check_gradients("batch_norm_relu 4-d training",
                  [&](const Ts& x) {
                    auto [rm, rv] = stats(3);
                    return batch_norm_relu(x[0], x[1], x[2], rm, rv, true);
                  },
                  {rand64({4, 3, 2, 3}, 11), rand64({3}, 12, 0.5, 1.5), rand64({3}, 13)});
  check_gradients(
      "batch_norm_relu 2-d training without affine",
      [&](const Ts& x) { return batch_norm_relu(x[0], Tensor(), Tensor(), Tensor(), Tensor(), true); },
      {rand64({5, 4}, 14)});
  check_gradients("batch_norm_relu evaluation",
                  [&](const Ts& x) {
                    Tensor rm = Tensor::from_vector<double>({0.1, -0.2}, {2}),
                           rv = Tensor::from_vector<double>({0.5, 2.0}, {2});
                    return batch_norm_relu(x[0], x[1], x[2], rm, rv, false);
                  },
                  {rand64({3, 2, 2, 2}, 15), rand64({2}, 16), rand64({2}, 17)});
  check_gradients("dropout with a fixed mask",
                  [](const Ts& x) {
                    Generator gen(99);  // the same mask at every call
                    return dropout(x[0], 0.4, true, gen);
                  },
                  {rand64({6, 5}, 8)});
}

TEST_CASE(
    "batch norm's running statistics: both or neither, tracked by no gradient, in memory of their own") {
  const Tensor x = Tensor::from_vector<float>({1, 2, 3, 5, 4, 0}, {3, 2});
  Tensor gamma = Tensor::ones({2}).set_requires_grad();
  // Written in place by training, a statistic sharing gamma's memory changed the values x's gradient used.
  const Tensor x_tracked = x.detach().clone().set_requires_grad(), weights = Tensor::ones({2});
  CHECK_THROWS_WITH_AS(batch_norm(x_tracked, weights, Tensor(), weights, Tensor::ones({2}), true),
                       doctest::Contains("running_mean shares memory with another argument"), Error);
  CHECK_THROWS_WITH_AS(batch_norm(x, gamma, Tensor(), gamma, Tensor::ones({2}), true),
                       doctest::Contains("must not require grad"), Error);
  const Tensor stats = Tensor::zeros({2, 2});
  CHECK_THROWS_WITH_AS(batch_norm_relu(x, Tensor(), Tensor(), stats.select(0, 0), stats.select(0, 1), true),
                       doctest::Contains("running_mean shares memory with another argument"), Error);
  CHECK_THROWS_WITH_AS(batch_norm(x, Tensor(), Tensor(), Tensor::zeros({2}), x.select(0, 0), true),
                       doctest::Contains("running_var shares memory with another argument"), Error);
  CHECK_THROWS_WITH_AS(
      batch_norm(x, Tensor(), Tensor(), Tensor::zeros({2}).set_requires_grad(), Tensor::ones({2}), true),
      doctest::Contains("must not require grad"), Error);
  // One statistic alone was neither used nor updated.
  CHECK_THROWS_WITH_AS(batch_norm(x, Tensor(), Tensor(), Tensor::zeros({2}), Tensor(), true),
                       doctest::Contains("running_mean and running_var go together"), Error);
  // In evaluation nothing is written: statistics that share memory with the weights are only read.
  CHECK(batch_norm(x, gamma, Tensor(), gamma, Tensor::ones({2}), false).shape() == Shape{3, 2});
}

TEST_CASE("batch_norm_relu equals relu(batch_norm) in float32, values and gradients") {
  // The sizes of a MobileNet layer in miniature: many values per channel, half of them cut by the ReLU.
  Tensor x = Tensor::normal({8, 5, 6, 6}, 0.3, 1.7);
  Tensor gamma = Tensor::uniform({5}, 0.5, 1.5), beta = Tensor::normal({5}, 0, 0.5);
  for (Tensor* t : {&x, &gamma, &beta}) t->set_requires_grad();
  Tensor r = Tensor::normal({8, 5, 6, 6}, 0, 1);
  Tensor rm1 = Tensor::zeros({5}), rv1 = Tensor::ones({5}), rm2 = Tensor::zeros({5}), rv2 = Tensor::ones({5});
  auto grads_of = [&](const Tensor& y) {
    sum(mul(y, r)).backward();
    std::vector<Tensor> g = {x.grad().clone(), gamma.grad().clone(), beta.grad().clone()};
    for (Tensor* t : {&x, &gamma, &beta}) t->zero_grad();
    return g;
  };
  const Tensor fused = batch_norm_relu(x, gamma, beta, rm1, rv1, true);
  const std::vector<Tensor> g_fused = grads_of(fused);
  const Tensor composed = relu(batch_norm(x, gamma, beta, rm2, rv2, true));
  const std::vector<Tensor> g_composed = grads_of(composed);
  CHECK(max_abs_diff(fused, composed) == 0);  // the same arithmetic, element by element
  for (size_t i = 0; i < 3; ++i) CHECK(max_abs_diff(g_fused[i], g_composed[i]) < 1e-4);
  CHECK(max_abs_diff(rm1, rm2) == 0);
  CHECK(max_abs_diff(rv1, rv2) == 0);
}

TEST_CASE("conv2d_batch_norm_relu equals batch_norm_relu(conv2d), values, gradients and running statistics") {
  // Planes large enough for the convolution to record the moments: a dense 3x3 on 16x16, a depthwise 3x3 on
  // 32x32; smaller ones (batch norm reads the output for its statistics): a depthwise 3x3 with stride 2, a
  // 1x1 with several images per GEMM. In float64 against the two ops composed, and through finite
  // differences.
  struct Case {
    Shape x, w;
    Conv2dArgs args;
  };
  const Case cases[] = {{{2, 2, 16, 16}, {3, 2, 3, 3}, {1, 1, 1}},
                        {{2, 3, 32, 32}, {3, 1, 3, 3}, {1, 1, 3}},
                        {{3, 4, 6, 5}, {6, 4, 3, 3}, {1, 1, 1}},
                        {{2, 5, 7, 6}, {5, 1, 3, 3}, {2, 1, 5}},
                        {{9, 6, 2, 2}, {4, 6, 1, 1}, {1, 0, 1}}};
  uint64_t seed = 21;
  for (const Case& c : cases) {
    const int64_t co = c.w[0];
    const uint64_t s0 = seed;
    seed += 5;
    auto inputs = [&] {
      return Ts{rand64(c.x, s0), rand64(c.w, s0 + 1), rand64({co}, s0 + 2, 0.5, 1.5), rand64({co}, s0 + 3)};
    };
    Ts in = inputs();
    Tensor x = in[0], w = in[1], gamma = in[2], beta = in[3];
    for (Tensor* t : {&x, &w, &gamma, &beta}) t->set_requires_grad();
    Tensor r = rand64({c.x[0], co, 1, 1}, s0 + 4);  // broadcast weights for L = Σ r * y
    Tensor rm1 = Tensor::zeros({co}, DType::f64), rv1 = Tensor::ones({co}, DType::f64);
    Tensor rm2 = Tensor::zeros({co}, DType::f64), rv2 = Tensor::ones({co}, DType::f64);
    auto grads_of = [&](const Tensor& y) {
      sum(mul(y, r)).backward();
      std::vector<Tensor> g = {x.grad().clone(), w.grad().clone(), gamma.grad().clone(), beta.grad().clone()};
      for (Tensor* t : {&x, &w, &gamma, &beta}) t->zero_grad();
      return g;
    };
    const Tensor fused = conv2d_batch_norm_relu(x, w, c.args, gamma, beta, rm1, rv1, true);
    const std::vector<Tensor> g_fused = grads_of(fused);
    const Tensor composed = batch_norm_relu(conv2d(x, w, Tensor(), c.args), gamma, beta, rm2, rv2, true);
    const std::vector<Tensor> g_composed = grads_of(composed);
    CHECK(max_abs_diff(fused, composed) < 1e-12);
    for (size_t i = 0; i < 4; ++i) CHECK(max_abs_diff(g_fused[i], g_composed[i]) < 1e-12);
    CHECK(max_abs_diff(rm1, rm2) < 1e-12);
    CHECK(max_abs_diff(rv1, rv2) < 1e-12);
    // Finite differences on the small cases only: on the large ones the loss sums thousands of terms and the
    // differences' rounding exceeds the tolerance; there the exact match with the composed ops (each checked
    // by finite differences above) is the check.
    if (x.numel() > 600) continue;
    check_gradients(
        "conv2d_batch_norm_relu",
        [&](const Ts& t) {
          Tensor rm = Tensor::zeros({co}, DType::f64), rv = Tensor::ones({co}, DType::f64);
          return conv2d_batch_norm_relu(t[0], t[1], c.args, t[2], t[3], rm, rv, true);
        },
        inputs());
  }
}

TEST_CASE("fused NT-Xent") {
  check_gradients("ntxent", [](const Ts& x) { return ntxent(x[0], 0.5); }, {rand64({6, 4}, 1)});
  check_gradients("ntxent cross-view only", [](const Ts& x) { return ntxent(x[0], 0.2, true); },
                  {rand64({8, 3}, 2)});
  check_gradients("ntxent after a linear head", [](const Ts& x) { return ntxent(linear(x[0], x[1]), 0.3); },
                  {rand64({4, 5}, 3), rand64({3, 5}, 4)});
}
