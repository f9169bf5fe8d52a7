// Tensor basics: creation, views sharing storage, strides, dtype conversion, RNG reproducibility, errors.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "core/ops.h"
#include "kernels/compute_threads.h"

using namespace ssl;

TEST_CASE("views share storage and read through their strides") {
  Tensor x = Tensor::from_vector<float>({0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor t = x.t();
  CHECK(t.shape() == Shape{3, 2});
  CHECK(t.storage() == x.storage());
  CHECK_FALSE(t.is_contiguous());
  CHECK(t.to_vector<float>() == std::vector<float>{0, 3, 1, 4, 2, 5});
  CHECK(x.slice(1, 0, 3, 2).to_vector<float>() == std::vector<float>{0, 2, 3, 5});
  CHECK(x.select(0, 1).to_vector<float>() == std::vector<float>{3, 4, 5});
  Tensor e = Tensor::from_vector<float>({7, 8}, {2, 1}).expand({2, 3});
  CHECK(e.strides()[1] == 0);
  CHECK(e.to_vector<float>() == std::vector<float>{7, 7, 7, 8, 8, 8});
  CHECK(x.reshape({3, -1}).shape() == Shape{3, 2});
  CHECK(x.permute({1, 0}).contiguous().to_vector<float>() == t.to_vector<float>());

  // select, squeeze and unsqueeze of a non-contiguous tensor are views too: a write through them lands.
  Tensor column = x.select(1, 1);
  CHECK(column.storage() == x.storage());
  CHECK(column.to_vector<float>() == std::vector<float>{1, 4});
  column.fill_(9);
  CHECK(x.to_vector<float>() == std::vector<float>{0, 9, 2, 3, 9, 5});
  Tensor tall = t.unsqueeze(1);  // [3, 1, 2] over x's storage
  CHECK(tall.shape() == Shape{3, 1, 2});
  CHECK(tall.storage() == x.storage());
  CHECK(tall.squeeze(1).to_vector<float>() == t.to_vector<float>());
  CHECK(t.unsqueeze(2).to_vector<float>() == t.to_vector<float>());
}

TEST_CASE("alignment, fill, copy and dtype conversion") {
  Tensor x = Tensor::full({5, 7}, 2.5);
  CHECK(reinterpret_cast<uintptr_t>(x.data<float>()) % 64 == 0);
  CHECK(x.to(DType::f64).to_vector<double>()[34] == 2.5);
  Tensor y = Tensor::zeros({7, 5});
  y.copy_(Tensor::arange(35, DType::f32).reshape({5, 7}).t());
  CHECK(y.to_vector<float>()[1] == 7.0f);
  CHECK(Tensor::arange(4).to(DType::f32).to_vector<float>() == std::vector<float>{0, 1, 2, 3});
  // A source in the destination's own storage is read whole before anything is written; a destination whose
  // elements overlap (an expanded view) is refused, by fill_ too.
  Tensor m = Tensor::arange(4, DType::f32).reshape({2, 2});
  m.copy_(m.t());
  CHECK(m.to_vector<float>() == std::vector<float>{0, 2, 1, 3});
  Tensor v = Tensor::arange(4, DType::f32);
  v.slice(0, 1, 4).copy_(v.slice(0, 0, 3));
  CHECK(v.to_vector<float>() == std::vector<float>{0, 0, 1, 2});
  CHECK_THROWS_WITH_AS(Tensor::zeros({1, 3}).expand({2, 3}).copy_(Tensor::ones({2, 3})),
                       doctest::Contains("copy_: the destination [2, 3] has stride 0 along dim 0"),
                       ssl::Error);
  CHECK_THROWS_WITH_AS(Tensor::zeros({1}).expand({100000}).fill_(1),
                       doctest::Contains("fill_: the destination [100000] has stride 0 along dim 0"),
                       ssl::Error);
  Tensor empty_expanded = Tensor::zeros({0, 1}).expand({0, 4});
  CHECK(empty_expanded.fill_(1).numel() == 0);
  CHECK(Tensor::zeros({3, 0}).clone().shape() == Shape{3, 0});  // empty: its strides may be 0
}

TEST_CASE("random tensors depend on the seed only, not on the thread count") {
  auto draw = [](int threads) {
    const kernels::ComputeThreads pinned(threads);
    Generator g(42);
    Tensor a = Tensor::normal({300, 700}, 0, 1, g);
    return a.to_vector<float>();
  };
  const auto one = draw(1), two = draw(2);
  CHECK(one == two);
  Generator g1(1), g2(2);
  CHECK(Tensor::uniform({8}, 0, 1, g1).to_vector<float>() !=
        Tensor::uniform({8}, 0, 1, g2).to_vector<float>());
  // Sanity of the distribution: mean ≈ 0, variance ≈ 1 over 210k draws.
  double s = 0, ss = 0;
  for (float v : one) {
    s += v;
    ss += double(v) * v;
  }
  const double m = s / one.size();
  CHECK(std::abs(m) < 0.01);
  CHECK(std::abs(ss / one.size() - m * m - 1.0) < 0.02);
}

TEST_CASE("bad shapes and dtypes give errors naming the op and the shapes") {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4, 5});
  CHECK_THROWS_WITH_AS(add(a, b), doctest::Contains("add: shapes [2, 3] and [4, 5] cannot be broadcast"),
                       ssl::Error);
  CHECK_THROWS_WITH_AS(matmul(a, b), doctest::Contains("matmul: inner dimensions differ"), ssl::Error);
  CHECK_THROWS_WITH_AS(matmul(Tensor::zeros({2, 3, 4}), Tensor::zeros({5, 6})),
                       doctest::Contains("inner dimensions differ: [2, 3, 4] @ [5, 6]"), ssl::Error);
  const Tensor no_inner = matmul(Tensor::ones({2, 3, 0}), Tensor::ones({0, 4}));  // a sum of nothing
  CHECK(no_inner.shape() == Shape{2, 3, 4});
  CHECK(no_inner.to_vector<float>() == std::vector<float>(24, 0.0f));
  CHECK_THROWS_WITH_AS(sum(Tensor::ones({}), {0}), doctest::Contains("sum: dim 0 out of range"), ssl::Error);
  CHECK_THROWS_WITH_AS(Tensor::zeros({3}).slice(0, 5, 10), doctest::Contains("slice: bad range [5, 10)"),
                       ssl::Error);
  CHECK_THROWS_WITH_AS(a.reshape({7}), doctest::Contains("reshape"), ssl::Error);
  CHECK_THROWS_WITH_AS(add(a, Tensor::zeros({2, 3}, DType::f64)), doctest::Contains("dtypes differ"),
                       ssl::Error);
  CHECK_THROWS_WITH_AS(cross_entropy(a, Tensor::from_vector<int64_t>({0, 3}, {2})),
                       doctest::Contains("target 3 of row 1 is outside [0, 3)"), ssl::Error);
  // A window larger than the input by less than its stride once passed as one output position (C++ division
  // rounds toward zero) and read past the image.
  const Tensor image = Tensor::ones({2, 1, 2, 2});
  CHECK_THROWS_WITH_AS(
      conv2d(image, Tensor::ones({1, 1, 3, 3}), Tensor(), {.stride = 2}),
      doctest::Contains("conv2d: a 3x3 kernel with padding 0 does not fit input [2, 1, 2, 2]"), ssl::Error);
  CHECK_THROWS_WITH_AS(avg_pool2d(Tensor::ones({1, 1, 1, 1}), 2),
                       doctest::Contains("avg_pool2d: a 2x2 window does not fit input [1, 1, 1, 1]"),
                       ssl::Error);
  CHECK_THROWS_WITH_AS(max_pool2d(Tensor::ones({1, 1, 2, 2}), 3, 2), doctest::Contains("does not fit"),
                       ssl::Error);
  CHECK(conv2d(image, Tensor::ones({1, 1, 3, 3}), Tensor(), {.stride = 2, .padding = 1}).shape() ==
        Shape{2, 1, 1, 1});
  CHECK_THROWS_WITH_AS(
      conv2d(image, Tensor::ones({1, 1, 3, 3}), Tensor::zeros({1}, DType::f64), {.padding = 1}),
      doctest::Contains("conv2d: dtypes differ (float32 and float64)"), ssl::Error);
  // An undefined tensor (here the gradient of a tensor no backward pass reached) is an error, not a crash.
  const Tensor no_grad_yet = Tensor::ones({2}).set_requires_grad().grad();
  CHECK_THROWS_WITH_AS(no_grad_yet.to_vector<float>(),
                       doctest::Contains("to_vector: the tensor is undefined"), ssl::Error);
  CHECK_THROWS_WITH_AS(no_grad_yet.item(), doctest::Contains("item: the tensor is undefined"), ssl::Error);
  CHECK_THROWS_WITH_AS(Tensor::zeros({2}).copy_(no_grad_yet), doctest::Contains("copy_ (source)"),
                       ssl::Error);
  CHECK_THROWS_WITH_AS(no_grad_yet.contiguous(), doctest::Contains("undefined"), ssl::Error);
  // Every op reaches it through the tensor's shape, dtype or device, so each of them says so too.
  CHECK_THROWS_WITH_AS(sum(no_grad_yet), doctest::Contains("the tensor is undefined"), ssl::Error);
  CHECK_THROWS_WITH_AS(mean(no_grad_yet), doctest::Contains("the tensor is undefined"), ssl::Error);
  CHECK_THROWS_WITH_AS(no_grad_yet.reshape({-1}), doctest::Contains("the tensor is undefined"), ssl::Error);
  CHECK_THROWS_WITH_AS(cat({no_grad_yet, a}, 0), doctest::Contains("the tensor is undefined"), ssl::Error);
  CHECK_THROWS_WITH_AS(Tensor().requires_grad(), doctest::Contains("the tensor is undefined"), ssl::Error);
  CHECK_THROWS_WITH_AS(log_softmax(a, 5), doctest::Contains("log_softmax: dim 5"), ssl::Error);
  CHECK_THROWS_AS(Device::parse("gpu"), ssl::Error);
  CHECK_THROWS_WITH_AS(Device::parse("cuda:99999999999"), doctest::Contains("up to 9 digits"), ssl::Error);
  CHECK(Device::parse("cuda:12") == Device::cuda(12));
  CHECK_THROWS_WITH_AS(Tensor::zeros({2, 3, 4}).flatten(2, 1),
                       doctest::Contains("flatten: start_dim 2 comes after end_dim 1"), ssl::Error);
  CHECK(Tensor::zeros({2, 3, 4}).flatten(1, 1).shape() == Shape{2, 3, 4});
  // Negative sizes whose product is right are still refused (only -1, once, is inferred).
  CHECK_THROWS_WITH_AS(Tensor::zeros({6}).reshape({-2, -3}),
                       doctest::Contains("reshape: sizes must be at least 0"), ssl::Error);
  CHECK_THROWS_WITH_AS(Tensor::zeros({6}).reshape({-1, -1}), doctest::Contains("only one dim may be -1"),
                       ssl::Error);
  CHECK(Tensor::zeros({6}).reshape({-1, 3}).shape() == Shape{2, 3});
  CHECK_THROWS_WITH_AS(Tensor::ones({1}).expand({-4}), doctest::Contains("expand: sizes must be at least 0"),
                       ssl::Error);
  CHECK_THROWS_WITH_AS(Tensor::zeros({1}, DType::f32, Device::cuda(0)), doctest::Contains("CUDA"),
                       ssl::Error);
  // A shape too large to count in 64 bits, as elements or as bytes, is refused, not wrapped to a small
  // allocation; a dimension of 0 makes any shape empty.
  const int64_t huge = int64_t(1) << 62;
  CHECK_THROWS_WITH_AS(Tensor::empty({huge, 4}),
                       doctest::Contains("shape [4611686018427387904, 4] has more than 2^63 - 1 elements"),
                       ssl::Error);
  CHECK_THROWS_WITH_AS(
      Tensor::empty({huge / 2}, DType::f32),
      doctest::Contains("shape [2305843009213693952] of float32 would take more than 2^63 - 1 "
                        "bytes"),
      ssl::Error);
  CHECK(Tensor::empty({huge, 4, 0}).numel() == 0);
  // copy_ names itself and both shapes when they do not broadcast.
  CHECK_THROWS_WITH_AS(Tensor::zeros({3, 4}).copy_(Tensor::ones({4, 3})),
                       doctest::Contains("copy_: the source's shape [4, 3] does not broadcast to the "
                                         "destination's [3, 4]"),
                       ssl::Error);
  CHECK_THROWS_WITH_AS(Tensor::zeros({4}).copy_(Tensor::ones({2, 4})),
                       doctest::Contains("copy_: the source's shape [2, 4]"), ssl::Error);
}

TEST_CASE("sizes and window arguments too large for 64 bits are refused, not wrapped around") {
  const int64_t huge = int64_t(1) << 62;
  const Tensor x = Tensor::ones({1, 1, 4, 4});
  // 4 · 2^62 once wrapped to 0: an empty output the kernel then wrote far past.
  CHECK_THROWS_WITH_AS(upsample_nearest2d(x, huge), doctest::Contains("a scale from 1 to 2147483647"),
                       ssl::Error);
  CHECK_THROWS_WITH_AS(conv_transpose2d(x, Tensor::ones({1, 1, 1, 1}), Tensor(), {.stride = huge}),
                       doctest::Contains("need 1 <= stride <= 2147483647"), ssl::Error);
  CHECK_THROWS_WITH_AS(conv2d(x, Tensor::ones({1, 1, 1, 1}), Tensor(), {.padding = huge}),
                       doctest::Contains("and at most 2147483647"), ssl::Error);
  CHECK_THROWS_WITH_AS(max_pool2d(x, INT64_MAX, 1, INT64_MAX / 2), doctest::Contains("at most 2147483647"),
                       ssl::Error);
  CHECK_THROWS_WITH_AS(Tensor::zeros({4}).reshape({-1, huge, huge}),
                       doctest::Contains("has more than 2^63 - 1 elements"), ssl::Error);
  CHECK_THROWS_WITH_AS(Tensor::ones({4, 1}).expand({4, huge}),
                       doctest::Contains("has more than 2^63 - 1 elements"), ssl::Error);
  // A step past the end takes the first element only (end - start + step - 1 once overflowed).
  const Tensor r = Tensor::arange(5).to(DType::f32);
  CHECK(r.slice(0, 0, 5, INT64_MAX).to_vector<float>() == std::vector<float>{0});
  CHECK(r.slice(0, 1, 5, INT64_MAX - 2).to_vector<float>() == std::vector<float>{1});
  // A view must stay inside its storage.
  CHECK_THROWS_WITH_AS(make_view(Tensor::zeros({4}), {4}, {1}, 100),
                       doctest::Contains("make_view: shape [4], strides [1] and offset 100 reach past the "
                                         "storage's 4 elements"),
                       ssl::Error);
  CHECK_THROWS_AS(make_view(Tensor::zeros({4}), {2}, {huge}, 0), ssl::Error);
  CHECK(make_view(Tensor::zeros({4}), {2, 2}, {0, 3}, 0).numel() == 4);
  CHECK_THROWS_WITH_AS(Tensor().size(0), doctest::Contains("the tensor is undefined"), ssl::Error);
}

TEST_CASE("floating values become integers as CUDA makes them: truncated, saturated, NaN as 0") {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  const Tensor f = Tensor::from_vector<double>({2.9, -2.9, nan, inf, -inf, 1e30, -1e30}, {7});
  CHECK(f.to(DType::i64).to_vector<int64_t>() ==
        std::vector<int64_t>{2, -2, 0, INT64_MAX, INT64_MIN, INT64_MAX, INT64_MIN});
  CHECK(f.to(DType::f32).to(DType::i64).to_vector<int64_t>()[3] == INT64_MAX);
  CHECK_THROWS_WITH_AS(Tensor::full({1}, nan, DType::i64),
                       doctest::Contains("fill_: nan cannot be converted to int64 without overflow"),
                       ssl::Error);
  CHECK_THROWS_AS(Tensor::full({1}, 0x1p63, DType::i64), ssl::Error);
  CHECK(Tensor::full({1}, -0x1p63, DType::i64).to_vector<int64_t>()[0] == INT64_MIN);
}

TEST_CASE("values of a few ops against hand computation") {
  Tensor x = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(sum(x, {0}).to_vector<float>() == std::vector<float>{5, 7, 9});
  CHECK(sum(x, {1}).to_vector<float>() == std::vector<float>{6, 15});
  CHECK(max(x, 1).to_vector<float>() == std::vector<float>{3, 6});
  CHECK(argmax(x, 0).to_vector<int64_t>() == std::vector<int64_t>{1, 1, 1});
  // ReLU passes a NaN on (as PyTorch's and the fused batch-norm ReLU do) rather than hiding it as 0.
  const std::vector<float> r = relu(Tensor::from_vector<float>({NAN, -1, 2}, {3})).to_vector<float>();
  CHECK(std::isnan(r[0]));
  CHECK(r[1] == 0);
  CHECK(r[2] == 2);
  // A row whose norm is below eps is scaled by 1 / eps, so its gradient is g / eps. With eps = 1e-13 in
  // float, 1 / (1 / eps) rounds above eps: the backward must still see the row as clamped.
  Tensor tiny = Tensor::from_vector<float>({3e-14f, 4e-14f}, {1, 2}).set_requires_grad();
  sum(mul(l2_normalize(tiny, 1, 1e-13), Tensor::from_vector<float>({1, 0}, {1, 2}))).backward();
  const std::vector<float> g = tiny.grad().to_vector<float>();
  CHECK(g[0] == doctest::Approx(1e13).epsilon(1e-5));
  CHECK(g[1] == 0);
  CHECK(matmul(x, x.t()).to_vector<float>() == std::vector<float>{14, 32, 32, 77});
  const auto sm = softmax(Tensor::from_vector<float>({0, std::log(3.0f)}, {1, 2})).to_vector<float>();
  CHECK(sm[0] == doctest::Approx(0.25));
  CHECK(sm[1] == doctest::Approx(0.75));
  const auto n = l2_normalize(Tensor::from_vector<float>({3, 4}, {1, 2})).to_vector<float>();
  CHECK(n[0] == doctest::Approx(0.6));
  CHECK(cat({x, x}, 0).shape() == Shape{4, 3});
  CHECK(index_select(x, 0, Tensor::from_vector<int64_t>({1, 1}, {2})).to_vector<float>()[3] == 4.0f);
}

TEST_CASE("float sums over a long dimension and log-probabilities of large logits keep float's accuracy") {
  // A million rows of 0.1 in 3 columns: a float running sum drifts 1 % off; the kernels add in double.
  const int64_t rows = int64_t(1) << 20;
  const Tensor tenths = Tensor::full({rows, 3}, 0.1, DType::f32);
  for (const float m : mean(tenths, {0}).to_vector<float>()) CHECK(m == doctest::Approx(0.1).epsilon(1e-6));
  for (const float m : mean(tenths.reshape({2, rows / 2, 3}), {1}).to_vector<float>())
    CHECK(m == doctest::Approx(0.1).epsilon(1e-6));
  // Equal logits near 1e4: every log-probability is −log 3, every probability 1/3 (rounding the row's
  // log-sum-exp to float first would put 4e-4 of error into each), and the loss of any target is log 3.
  const Tensor big = Tensor::full({1, 3}, 10000.0, DType::f32);
  for (const float v : log_softmax(big).to_vector<float>())
    CHECK(v == doctest::Approx(-std::log(3.0)).epsilon(1e-6));
  for (const float v : softmax(big).to_vector<float>()) CHECK(v == doctest::Approx(1 / 3.0).epsilon(1e-6));
  Tensor logits = big.clone().set_requires_grad();
  CHECK(cross_entropy(logits, Tensor::from_vector<int64_t>({2}, {1})).item() ==
        doctest::Approx(std::log(3.0)).epsilon(1e-6));
  cross_entropy(logits, Tensor::from_vector<int64_t>({2}, {1})).backward();
  const std::vector<float> g = logits.grad().to_vector<float>();
  CHECK(g[0] == doctest::Approx(1 / 3.0).epsilon(1e-6));
  CHECK(g[2] == doctest::Approx(-2 / 3.0).epsilon(1e-6));
}

TEST_CASE("pow with exponent 0 has gradient 0, at x = 0 too") {
  Tensor x = Tensor::from_vector<double>({0, -2, 3}, {3}).set_requires_grad();
  sum(pow(x, 0)).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0, 0, 0});
}
