// The ops of core/ops_nn.h: finite-difference gradient checks in float64 (as in test_gradients.cpp), plus
// forward checks against values worked by hand and against conv2d, whose input gradient conv_transpose2d is.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "core/ops_nn.h"
#include "kernels/compute_threads.h"
#include "kernels/conv.h"
#include "support/gradcheck.h"

using namespace ssl;
using ssl::test::check_gradients;
using ssl::test::max_abs_diff;
using ssl::test::rand64;
using Ts = std::vector<Tensor>;

TEST_CASE("conv_transpose2d forward: values by hand and output sizes") {
  // One 2x2 input, one 2x2 kernel of ones, stride 2: every input pixel becomes a 2x2 block.
  Tensor x = Tensor::from_vector<float>({1, 2, 3, 4}, {1, 1, 2, 2});
  Tensor w = Tensor::ones({1, 1, 2, 2});
  CHECK(conv_transpose2d(x, w, Tensor(), {2}).to_vector<float>() ==
        std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  // Stride 1: the patches overlap and add up; bias adds to every output.
  Tensor b = Tensor::from_vector<float>({10}, {1});
  CHECK(conv_transpose2d(x, w, b).to_vector<float>() ==
        std::vector<float>{11, 13, 12, 14, 20, 16, 13, 17, 14});
  // Padding 1 crops one row/column on each side: the centre of the stride-1 result.
  CHECK(conv_transpose2d(x, Tensor::ones({1, 1, 3, 3}), Tensor(), {1, 1}).to_vector<float>() ==
        std::vector<float>{10, 10, 10, 10});
  // (H−1)·s − 2p + k + output_padding, and C_out = w.size(1)·groups.
  CHECK(
      conv_transpose2d(Tensor::zeros({2, 4, 5, 7}), Tensor::zeros({4, 3, 4, 4}), Tensor(), {2, 1}).shape() ==
      Shape{2, 3, 10, 14});
  CHECK(conv_transpose2d(Tensor::zeros({1, 4, 5, 5}), Tensor::zeros({4, 3, 3, 3}), Tensor(), {2, 1, 1, 2})
            .shape() == Shape{1, 6, 10, 10});
  CHECK_THROWS_WITH_AS(conv_transpose2d(Tensor::zeros({1, 4, 5, 5}), Tensor::zeros({3, 3, 3, 3})),
                       doctest::Contains("conv_transpose2d"), ssl::Error);
  CHECK_THROWS_WITH_AS(
      conv_transpose2d(Tensor::zeros({1, 4, 5, 5}), Tensor::zeros({4, 3, 3, 3}), Tensor(), {2, 1, 2}),
      doctest::Contains("output_padding"), ssl::Error);
}

TEST_CASE("conv_transpose2d is the adjoint of conv2d: <T(x), y> = <x, conv2d(y)>") {
  struct Case {
    Shape x, w;
    int64_t stride, padding, output_padding, groups;
  };
  for (const Case& c :
       {Case{{2, 3, 4, 5}, {3, 2, 3, 3}, 1, 1, 0, 1}, Case{{2, 4, 3, 3}, {4, 3, 3, 3}, 2, 1, 1, 2},
        Case{{1, 2, 5, 4}, {2, 3, 4, 4}, 2, 1, 0, 1}, Case{{3, 2, 3, 3}, {2, 4, 1, 1}, 1, 0, 0, 1},
        Case{{1, 3, 2, 3}, {3, 2, 5, 5}, 3, 2, 2, 1}}) {
    INFO("x ", c.x, " w ", c.w, " stride ", c.stride, " padding ", c.padding);
    Generator gen(7);
    Tensor x = Tensor::uniform(c.x, -1, 1, gen, DType::f64), w = Tensor::uniform(c.w, -1, 1, gen, DType::f64);
    Tensor t = conv_transpose2d(x, w, Tensor(), {c.stride, c.padding, c.output_padding, c.groups});
    Tensor y = Tensor::uniform(t.shape(), -1, 1, gen, DType::f64);
    Tensor back = conv2d(y, w, Tensor(), {c.stride, c.padding, c.groups});
    REQUIRE(back.shape() == x.shape());
    CHECK(sum(mul(t, y)).item() == doctest::Approx(sum(mul(x, back)).item()).epsilon(1e-12));
  }
}

TEST_CASE("conv_transpose2d gradients") {
  check_gradients("conv_transpose2d 3x3 stride 1 pad 1 with bias",
                  [](const Ts& x) {
                    return conv_transpose2d(x[0], x[1], x[2], {1, 1});
                  },
                  {rand64({2, 3, 4, 4}, 1), rand64({3, 2, 3, 3}, 2), rand64({2}, 3)});
  check_gradients("conv_transpose2d 4x4 stride 2 pad 1 (DCGAN)",
                  [](const Ts& x) {
                    return conv_transpose2d(x[0], x[1], x[2], {2, 1});
                  },
                  {rand64({2, 3, 3, 3}, 4), rand64({3, 2, 4, 4}, 5), rand64({2}, 6)});
  check_gradients("conv_transpose2d 3x3 stride 2 output_padding 1",
                  [](const Ts& x) {
                    return conv_transpose2d(x[0], x[1], Tensor(), {2, 1, 1});
                  },
                  {rand64({1, 2, 3, 4}, 7), rand64({2, 3, 3, 3}, 8)});
  check_gradients("conv_transpose2d groups 2",
                  [](const Ts& x) {
                    return conv_transpose2d(x[0], x[1], x[2], {2, 0, 0, 2});
                  },
                  {rand64({2, 4, 3, 3}, 9), rand64({4, 3, 2, 2}, 10), rand64({6}, 11)});
  check_gradients("conv_transpose2d 1x1", [](const Ts& x) { return conv_transpose2d(x[0], x[1], x[2]); },
                  {rand64({2, 3, 3, 2}, 12), rand64({3, 4, 1, 1}, 13), rand64({4}, 14)});
  check_gradients("conv_transpose2d from 1x1 (a generator's projection)",
                  [](const Ts& x) { return conv_transpose2d(x[0], x[1]); },
                  {rand64({2, 5, 1, 1}, 15), rand64({5, 3, 4, 4}, 16)});
  check_gradients("conv_transpose2d of a non-contiguous input",
                  [](const Ts& x) {
                    return conv_transpose2d(x[0].permute({0, 1, 3, 2}), x[1], Tensor(), {2, 1});
                  },
                  {rand64({1, 2, 3, 4}, 17), rand64({2, 2, 3, 3}, 18)});
}

TEST_CASE("conv_transpose2d gradients with several images per product (chunks, the last one short)") {
  // Two threads, so that seven images of a few pixels make chunks of 4 and 3 on any machine.
  const kernels::ComputeThreads two(2);
  check_gradients("conv_transpose2d 4x4 stride 2 pad 1, 7 images",
                  [](const Ts& x) {
                    return conv_transpose2d(x[0], x[1], x[2], {2, 1});
                  },
                  {rand64({7, 3, 2, 2}, 31), rand64({3, 2, 4, 4}, 32), rand64({2}, 33)});
  check_gradients("conv_transpose2d 1x1, 7 images (no col2im)",
                  [](const Ts& x) { return conv_transpose2d(x[0], x[1], x[2]); },
                  {rand64({7, 3, 2, 3}, 34), rand64({3, 4, 1, 1}, 35), rand64({4}, 36)});
  check_gradients("conv_transpose2d groups 2, 5 images",
                  [](const Ts& x) {
                    return conv_transpose2d(x[0], x[1], x[2], {2, 0, 0, 2});
                  },
                  {rand64({5, 4, 2, 2}, 37), rand64({4, 3, 2, 2}, 38), rand64({6}, 39)});
  check_gradients("conv_transpose2d from 1x1, 7 images",
                  [](const Ts& x) { return conv_transpose2d(x[0], x[1]); },
                  {rand64({7, 5, 1, 1}, 40), rand64({5, 3, 4, 4}, 41)});
}

TEST_CASE("conv2d gradients with several images per product (chunks, the last one short)") {
  // As above: two threads, so that seven images of a few pixels make chunks of 4 and 3 on any machine. More
  // than kernels::cpu::kDirectMaxOutputs outputs per group, so that the layer takes im2col + GEMM.
  static_assert(kernels::cpu::kDirectMaxOutputs < 5);
  const kernels::ComputeThreads two(2);
  check_gradients("conv2d 3x3 pad 1 with bias, 7 images",
                  [](const Ts& x) {
                    return conv2d(x[0], x[1], x[2], {1, 1, 1});
                  },
                  {rand64({7, 3, 3, 2}, 42), rand64({5, 3, 3, 3}, 43), rand64({5}, 44)});
  check_gradients("conv2d stride 2 groups 2 with bias, 5 images",
                  [](const Ts& x) {
                    return conv2d(x[0], x[1], x[2], {2, 1, 2});
                  },
                  {rand64({5, 4, 4, 3}, 45), rand64({10, 2, 3, 3}, 46), rand64({10}, 47)});
}

TEST_CASE("upsample_nearest2d forward and gradients") {
  Tensor x = Tensor::from_vector<float>({1, 2, 3, 4}, {1, 1, 2, 2});
  CHECK(upsample_nearest2d(x, 2).to_vector<float>() ==
        std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  CHECK(upsample_nearest2d(Tensor::zeros({2, 3, 4, 5}), 3).shape() == Shape{2, 3, 12, 15});
  CHECK(upsample_nearest2d(x, 1).to_vector<float>() == x.to_vector<float>());
  CHECK_THROWS_AS(upsample_nearest2d(x, 0), ssl::Error);
  CHECK_THROWS_AS(upsample_nearest2d(Tensor::zeros({2, 2}), 2), ssl::Error);
  check_gradients("upsample_nearest2d x2", [](const Ts& x) { return upsample_nearest2d(x[0], 2); },
                  {rand64({2, 3, 3, 4}, 1)});
  check_gradients("upsample_nearest2d x3 of a strided view",
                  [](const Ts& x) { return upsample_nearest2d(x[0].slice(3, 0, 5, 2), 3); },
                  {rand64({1, 2, 3, 5}, 2)});
}

TEST_CASE("upsample_conv2d equals upsample_nearest2d by 2 then a 3x3 conv2d, values and gradients") {
  // Each side's output and the gradients of its three inputs, for the same inputs (non-square, with bias).
  const auto run = [](const ssl::test::Fn& f) {
    const Ts in = {rand64({2, 3, 4, 5}, 60), rand64({4, 3, 3, 3}, 61), rand64({4}, 62)};
    const Tensor y = f(in);
    Generator gen(63);
    sum(mul(y, Tensor::uniform(y.shape(), 0.5, 1.5, gen, DType::f64))).backward();
    return Ts{y.detach(), in[0].grad(), in[1].grad(), in[2].grad()};
  };
  const Ts fused = run([](const Ts& t) { return upsample_conv2d(t[0], t[1], t[2]); });
  const Ts composed = run([](const Ts& t) {
    return conv2d(upsample_nearest2d(t[0], 2), t[1], t[2], {1, 1});
  });
  CHECK(fused[0].shape() == Shape{2, 4, 8, 10});
  for (size_t i = 0; i < fused.size(); ++i) {
    INFO("output, then the gradients of x, w and bias: ", i);
    CHECK(max_abs_diff(fused[i], composed[i]) < 1e-12);  // the same sums, added in another order
  }
  check_gradients("upsample_conv2d", [](const Ts& t) { return upsample_conv2d(t[0], t[1], t[2]); },
                  {rand64({1, 2, 3, 4}, 64), rand64({3, 2, 3, 3}, 65), rand64({3}, 66)});
  check_gradients("upsample_conv2d without bias", [](const Ts& t) { return upsample_conv2d(t[0], t[1]); },
                  {rand64({2, 2, 2, 3}, 67), rand64({2, 2, 3, 3}, 68)});
  CHECK_THROWS_WITH_AS(
      upsample_conv2d(Tensor::zeros({1, 2, 4, 4}), Tensor::zeros({3, 2, 5, 5})),
      doctest::Contains("3×3 kernel w [C_out, C, 3, 3], got x [1, 2, 4, 4] and w [3, 2, 5, 5]"), ssl::Error);
  CHECK_THROWS_AS(upsample_conv2d(Tensor::zeros({1, 3, 4, 4}), Tensor::zeros({3, 2, 3, 3})), ssl::Error);
}

// float runs the convolutions' GEMMs through gemm_serial's own kernel where the CPU has AVX-512 or AVX2,
// double through Eigen; at the sizes a model trains at (many tiles and blocks per product) both must agree.
// Two threads, so that the transposed convolution of 7 images of 4x4 makes chunks of 4 and 3 on any machine.
TEST_CASE("conv2d and conv_transpose2d in float agree with double, forward and backward, at training sizes") {
  struct Case {
    bool transpose;
    Shape x, w;
    int64_t stride, padding;
  };
  const kernels::ComputeThreads two(2);
  for (const Case& c :
       {Case{false, {4, 64, 16, 16}, {96, 64, 3, 3}, 1, 1},
        Case{false, {8, 128, 8, 8}, {256, 128, 3, 3}, 2, 1},
        Case{false, {4, 130, 9, 9}, {70, 130, 1, 1}, 1, 0}, Case{true, {4, 128, 8, 8}, {128, 64, 4, 4}, 2, 1},
        Case{true, {7, 64, 4, 4}, {64, 32, 4, 4}, 2, 1}}) {
    INFO("transpose ", c.transpose, " x ", c.x, " w ", c.w);
    const auto run = [&](DType dtype) {
      Tensor x = rand64(c.x, 21).to(dtype).set_requires_grad(),
             w = rand64(c.w, 22).to(dtype).set_requires_grad();
      Tensor y = c.transpose ? conv_transpose2d(x, w, Tensor(), {c.stride, c.padding})
                             : conv2d(x, w, Tensor(), {c.stride, c.padding});
      sum(mul(y, rand64(y.shape(), 23).to(dtype))).backward();
      std::vector<std::vector<double>> out;
      for (const Tensor& t : {y.detach(), x.grad(), w.grad()})
        out.push_back(t.to(DType::f64).to_vector<double>());
      return out;
    };
    const auto f32 = run(DType::f32), f64 = run(DType::f64);
    for (size_t i = 0; i < f64.size(); ++i) {
      double err = 0, scale = 0;
      for (size_t j = 0; j < f64[i].size(); ++j) {
        const double d = std::abs(f32[i][j] - f64[i][j]);
        err = std::isnan(d) ? INFINITY : std::max(err, d);
        scale = std::max(scale, std::abs(f64[i][j]));
      }
      CHECK_MESSAGE(err <= 1e-5 * scale + 1e-6, "output ", i, ": max error ", err, " at scale ", scale);
    }
  }
}
