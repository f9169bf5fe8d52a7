// The autograd engine itself: accumulation, freeing, grad mode, detach, and its error messages.
#include <doctest/doctest.h>

#include "core/ops.h"
#include "support/gradcheck.h"

using namespace ssl;

TEST_CASE("gradients accumulate over uses and over backward calls") {
  Tensor x = Tensor::from_vector<double>({1.0, 2.0, 3.0}, {3}).set_requires_grad();
  Tensor y = sum(add(mul(x, x), x));  // dy/dx = 2x + 1
  y.backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{3, 5, 7});
  sum(mul(x, 2.0)).backward();  // accumulates: + 2
  CHECK(x.grad().to_vector<double>() == std::vector<double>{5, 7, 9});
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("a diamond-shaped graph sums the gradients that meet") {
  Tensor x = Tensor::from_vector<double>({0.5, -1.0}, {2}).set_requires_grad();
  Tensor a = exp(x);
  Tensor y = sum(mul(a, a));  // d/dx e^{2x} = 2e^{2x}
  y.backward();
  const auto g = x.grad().to_vector<double>();
  CHECK(g[0] == doctest::Approx(2 * std::exp(1.0)));
  CHECK(g[1] == doctest::Approx(2 * std::exp(-2.0)));
}

TEST_CASE("backward twice through a freed graph is a clear error; retain_graph allows it") {
  Tensor x = Tensor::from_vector<double>({1.0, 2.0}, {2}).set_requires_grad();
  Tensor y = sum(exp(x));
  y.backward();
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("already freed"), ssl::Error);

  Tensor z = sum(exp(x));
  x.zero_grad();
  z.backward(Tensor(), /*retain_graph=*/true);
  z.backward();
  CHECK(x.grad().to_vector<double>()[0] == doctest::Approx(2 * std::exp(1.0)));
}

TEST_CASE("backward on a non-scalar needs a gradient argument") {
  Tensor x = Tensor::from_vector<double>({1.0, 2.0}, {2}).set_requires_grad();
  Tensor y = mul(x, 3.0);
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("without a gradient"), ssl::Error);
  CHECK_THROWS_WITH_AS(y.backward(Tensor::ones({2})),
                       doctest::Contains("float32 on cpu for a tensor of shape [2], float64"), ssl::Error);
  y.backward(Tensor::from_vector<double>({1.0, 10.0}, {2}));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{3, 30});
}

TEST_CASE("NoGradGuard and detach stop recording") {
  Tensor x = Tensor::from_vector<double>({1.0}, {1}).set_requires_grad();
  {
    NoGradGuard guard;
    Tensor y = mul(x, 2.0);
    CHECK_FALSE(y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
  }
  CHECK(grad_enabled());
  Tensor d = x.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.storage() == x.storage());
  Tensor y = mul(x, 2.0);
  REQUIRE(y.grad_fn() != nullptr);
  CHECK(y.grad_fn()->op == "mul_scalar");
  CHECK_THROWS_AS(sum(d).backward(), ssl::Error);
}

TEST_CASE("a gradient is never written through an alias") {
  // add's backward passes the same gradient tensor to both inputs; accumulating into one must not
  // change the other.
  Tensor a = Tensor::from_vector<double>({1.0, 1.0}, {2}).set_requires_grad();
  Tensor b = Tensor::from_vector<double>({1.0, 1.0}, {2}).set_requires_grad();
  sum(add(a, b)).backward();
  sum(mul(a, 5.0)).backward();
  CHECK(a.grad().to_vector<double>() == std::vector<double>{6, 6});
  CHECK(b.grad().to_vector<double>() == std::vector<double>{1, 1});
}

TEST_CASE("a leaf's gradient is its own: neither the caller's tensor nor a view of the leaf's values") {
  // An optimizer step writes the parameter, and a user may write the gradient (grad().fill_): neither may
  // show through the other.
  Tensor x = Tensor::from_vector<double>({1.0, 2.0}, {2}).set_requires_grad();
  x.unsqueeze(0).backward(x.detach().unsqueeze(0));  // the gradient of |x|² / 2, a view of x's storage
  {
    NoGradGuard step;
    x.fill_(0);
  }
  CHECK(x.grad().to_vector<double>() == std::vector<double>{1, 2});

  Tensor a = Tensor::zeros({2}, DType::f64).set_requires_grad();
  Tensor b = Tensor::zeros({2}, DType::f64).set_requires_grad();
  Tensor g = Tensor::ones({2}, DType::f64);
  add(a, b).backward(g);  // add hands g through to both
  g.fill_(5);
  CHECK(a.grad().to_vector<double>() == std::vector<double>{1, 1});
  CHECK(b.grad().to_vector<double>() == std::vector<double>{1, 1});
}

TEST_CASE("a tensor written in place after an op saved it stops the backward, naming the op") {
  // An input without grad, overwritten: mul's gradient for w would be the new x.
  Tensor w = Tensor::from_vector<double>({1, 1, 1}, {3}).set_requires_grad();
  Tensor x = Tensor::from_vector<double>({1, 2, 3}, {3});
  Tensor y = sum(mul(w, x));
  x.copy_(Tensor::from_vector<double>({10, 20, 30}, {3}));
  CHECK_THROWS_WITH_AS(
      y.backward(), doctest::Contains("a tensor that 'mul' saved for its gradient was written"), ssl::Error);

  // A parameter changed under NoGradGuard (as an optimizer's step changes it) between forward and backward.
  Tensor a = Tensor::from_vector<double>({2, 3}, {2}).set_requires_grad();
  Tensor p = Tensor::from_vector<double>({4, 5}, {2}).set_requires_grad();
  Tensor z = sum(mul(a, p));
  {
    NoGradGuard no_grad;
    p.fill_(-1);
  }
  CHECK_THROWS_WITH_AS(z.backward(), doctest::Contains("'mul'"), ssl::Error);

  // A write through a view counts for the whole storage; so does a write to a saved output (exp saves y).
  Tensor v = Tensor::from_vector<double>({0.5, 1.5}, {2}).set_requires_grad();
  Tensor e = exp(v);
  Tensor loss = sum(e);
  {
    NoGradGuard no_grad;
    e.slice(0, 0, 1).fill_(0);
  }
  CHECK_THROWS_WITH_AS(loss.backward(), doctest::Contains("'exp'"), ssl::Error);

  // An op whose backward reads no values (add) does not mind: its gradient is right whatever x now holds.
  Tensor u = Tensor::from_vector<double>({1, 2}, {2}).set_requires_grad();
  Tensor c = Tensor::from_vector<double>({5, 6}, {2});
  Tensor s = sum(add(u, c));
  c.fill_(0);
  s.backward();
  CHECK(u.grad().to_vector<double>() == std::vector<double>{1, 1});

  // Writes before the op are none of its business.
  Tensor q = Tensor::from_vector<double>({1, 2}, {2});
  q.fill_(3);
  Tensor r = Tensor::from_vector<double>({1, 1}, {2}).set_requires_grad();
  sum(mul(r, q)).backward();
  CHECK(r.grad().to_vector<double>() == std::vector<double>{3, 3});
}

TEST_CASE("the finite-difference checker catches a wrong derivative") {
  // A op whose backward is deliberately wrong (it forgets the factor 2): the checker must fail on it.
  auto wrong_square = [](const std::vector<Tensor>& x) {
    Tensor y;
    {
      NoGradGuard g;
      y = mul(x[0], x[0]);
    }
    return record("wrong_square", y, {x[0]},
                  [x0 = x[0]](const Tensor& g, const std::vector<bool>&) { return std::vector{mul(g, x0)}; });
  };
  // The comparison check_gradients makes, run directly: every element of the wrong one disagrees, none of
  // the right one (the same square through the recorded mul).
  const auto mismatches =
      ssl::test::gradient_mismatches("wrong_square", wrong_square, {ssl::test::rand64({3}, 7, 0.5, 1.5)});
  CHECK(mismatches.size() == 3);
  for (const auto& bad : mismatches) CHECK(bad.analytic == doctest::Approx(bad.numeric / 2));
  const auto right_square = [](const std::vector<Tensor>& x) { return mul(x[0], x[0]); };
  CHECK(
      ssl::test::gradient_mismatches("square", right_square, {ssl::test::rand64({3}, 7, 0.5, 1.5)}).empty());
}

TEST_CASE("a graph of 300,000 ops goes backward and is freed without deep recursion") {
  // Each node frees the one before it: done by recursion, this overflowed the stack near 200,000 ops.
  Tensor x = Tensor::ones({1}, DType::f64).set_requires_grad();
  {
    Tensor y = x;
    for (int i = 0; i < 150000; ++i) y = mul(add(y, 1.0), 1.0);  // mul's closure holds its input too
    sum(y).backward();
  }
  CHECK(x.grad().item() == 1.0);
  Tensor kept = x;
  for (int i = 0; i < 300000; ++i) kept = add(kept, 1.0);  // never run backward: freed whole
}

TEST_CASE("set_grad takes a gradient of the tensor's shape, dtype and device only") {
  Tensor x = Tensor::ones({3}).set_requires_grad();
  CHECK_THROWS_WITH_AS(
      x.set_grad(Tensor::zeros({2, 3})),
      doctest::Contains("set_grad: a gradient of shape [2, 3], float32 on cpu for a tensor of "
                        "shape [3], float32 on cpu"),
      Error);
  CHECK_THROWS_AS(x.set_grad(Tensor::zeros({3}, DType::f64)), Error);
  x.set_grad(Tensor::full({3}, 2.0));
  sum(x).backward();
  CHECK(x.grad().to_vector<float>() == std::vector<float>{3, 3, 3});
  x.set_grad(Tensor());
  CHECK_FALSE(x.grad().defined());
}
