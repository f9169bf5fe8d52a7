// Elementwise ops and their derivatives. Binary ops broadcast; their backward sums the gradient back to
// each input's shape (sum_to).
#include "kernels/cuda/elementwise.h"
#include "core/ops.h"
#include "core/ops/op_helpers.h"

namespace ssl {

using kernels::BinaryOp;
using kernels::UnaryOp;

namespace {

Tensor run_binary(const char* name, BinaryOp op, const Tensor& a, const Tensor& b, double param = 0) {
  detail::check_inputs(name, {a, b});
  detail::check_same_dtype(name, a, b);
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor y = Tensor::empty(shape, a.dtype(), a.device());
  const Shape sa = detail::broadcast_strides(a, shape), sb = detail::broadcast_strides(b, shape);
  dispatch_floating(a.dtype(), name, [&]<class T>() {
    const int64_t ndim = int64_t(shape.size());
    detail::on_device(
        y.device(),
        [&] {
          kernels::cpu::binary<T>(op, ndim, shape.data(), detail::in<T>(a, sa), detail::in<T>(b, sb),
                                  detail::out<T>(y), param);
        },
        [&] {
          kernels::cuda::binary<T>(op, ndim, shape.data(), detail::in<T>(a, sa), detail::in<T>(b, sb),
                                   detail::out<T>(y), param);
        });
  });
  return y;
}

Tensor run_unary(const char* name, UnaryOp op, const Tensor& x, double param = 0) {
  detail::check_inputs(name, {x});
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  dispatch_floating(x.dtype(), name, [&]<class T>() {
    detail::on_device(
        x.device(),
        [&] {
          kernels::cpu::unary<T>(op, x.dim(), x.shape().data(), detail::in<T>(x, x.strides()),
                                 detail::out<T>(y), param);
        },
        [&] {
          kernels::cuda::unary<T>(op, x.dim(), x.shape().data(), detail::in<T>(x, x.strides()),
                                  detail::out<T>(y), param);
        });
  });
  return y;
}

using Grads = std::vector<Tensor>;
using Needs = std::vector<bool>;

}  // namespace

// d(a+b) = (g, g)
Tensor add(const Tensor& a, const Tensor& b) {
  Tensor y = run_binary("add", BinaryOp::add, a, b);
  return record("add", y, {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& g, const Needs& n) {
    return Grads{n[0] ? sum_to(g, sa) : Tensor(), n[1] ? sum_to(g, sb) : Tensor()};
  });
}

// d(a−b) = (g, −g)
Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor y = run_binary("sub", BinaryOp::sub, a, b);
  return record("sub", y, {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& g, const Needs& n) {
    return Grads{n[0] ? sum_to(g, sa) : Tensor(), n[1] ? sum_to(neg(g), sb) : Tensor()};
  });
}

// d(a·b) = (g·b, g·a)
Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor y = run_binary("mul", BinaryOp::mul, a, b);
  return record("mul", y, {a, b}, {a, b}, [a, b](const Tensor& g, const Needs& n) {
    return Grads{n[0] ? sum_to(mul(g, b), a.shape()) : Tensor(),
                 n[1] ? sum_to(mul(g, a), b.shape()) : Tensor()};
  });
}

// d(a/b) = (g/b, −g·a/b²)
Tensor div(const Tensor& a, const Tensor& b) {
  Tensor y = run_binary("div", BinaryOp::div, a, b);
  return record("div", y, {a, b}, {a, b}, [a, b](const Tensor& g, const Needs& n) {
    return Grads{n[0] ? sum_to(div(g, b), a.shape()) : Tensor(),
                 n[1] ? sum_to(neg(div(mul(g, a), mul(b, b))), b.shape()) : Tensor()};
  });
}

// d(x+c) = g
Tensor add(const Tensor& a, double c) {
  Tensor y = run_unary("add", UnaryOp::add_scalar, a, c);
  return record("add_scalar", y, {a}, [](const Tensor& g, const Needs&) { return Grads{g}; });
}

// d(c·x) = c·g
Tensor mul(const Tensor& a, double c) {
  Tensor y = run_unary("mul", UnaryOp::scale, a, c);
  return record("mul_scalar", y, {a}, [c](const Tensor& g, const Needs&) { return Grads{mul(g, c)}; });
}

// d(−x) = −g
Tensor neg(const Tensor& x) {
  Tensor y = run_unary("neg", UnaryOp::neg, x);
  return record("neg", y, {x}, [](const Tensor& g, const Needs&) { return Grads{neg(g)}; });
}

// d(eˣ) = g·eˣ (the output is saved, not the input)
Tensor exp(const Tensor& x) {
  Tensor y = run_unary("exp", UnaryOp::exp, x);
  return record("exp", y, {x}, {y},
                [y = y.detach()](const Tensor& g, const Needs&) { return Grads{mul(g, y)}; });
}

// d(log x) = g/x
Tensor log(const Tensor& x) {
  Tensor y = run_unary("log", UnaryOp::log, x);
  return record("log", y, {x}, {x}, [x](const Tensor& g, const Needs&) { return Grads{div(g, x)}; });
}

// d(xᵖ) = g·p·xᵖ⁻¹, and 0 for p = 0 (x⁰ is 1 everywhere; p·x⁻¹ would be NaN at x = 0)
Tensor pow(const Tensor& x, double p) {
  Tensor y = run_unary("pow", UnaryOp::pow, x, p);
  return record("pow", y, {x}, {x}, [x, p](const Tensor& g, const Needs&) {
    return Grads{p == 0 ? Tensor::zeros(x.shape(), g.dtype(), g.device()) : mul(g, mul(pow(x, p - 1), p))};
  });
}

// d(√x) = g / (2√x)
Tensor sqrt(const Tensor& x) {
  Tensor y = run_unary("sqrt", UnaryOp::sqrt, x);
  return record("sqrt", y, {x}, {y},
                [y = y.detach()](const Tensor& g, const Needs&) { return Grads{div(g, mul(y, 2.0))}; });
}

// d relu(x) = g·[x > 0]
Tensor relu(const Tensor& x) {
  Tensor y = run_unary("relu", UnaryOp::relu, x);
  return record("relu", y, {x}, {y}, [y = y.detach()](const Tensor& g, const Needs&) {
    return Grads{run_binary("relu_backward", BinaryOp::relu_grad, g, y)};  // y > 0 exactly where x > 0
  });
}

// d leaky_relu(x) = g·(x > 0 ? 1 : slope)
Tensor leaky_relu(const Tensor& x, double slope) {
  Tensor y = run_unary("leaky_relu", UnaryOp::leaky_relu, x, slope);
  return record("leaky_relu", y, {x}, {x}, [x, slope](const Tensor& g, const Needs&) {
    return Grads{run_binary("leaky_relu_backward", BinaryOp::leaky_relu_grad, g, x, slope)};
  });
}

// d tanh(x) = g·(1 − y²)
Tensor tanh(const Tensor& x) {
  Tensor y = run_unary("tanh", UnaryOp::tanh, x);
  return record("tanh", y, {x}, {y}, [y = y.detach()](const Tensor& g, const Needs&) {
    return Grads{mul(g, add(neg(mul(y, y)), 1.0))};
  });
}

// d σ(x) = g·y·(1 − y)
Tensor sigmoid(const Tensor& x) {
  Tensor y = run_unary("sigmoid", UnaryOp::sigmoid, x);
  return record("sigmoid", y, {x}, {y}, [y = y.detach()](const Tensor& g, const Needs&) {
    return Grads{mul(g, mul(y, add(neg(y), 1.0)))};
  });
}

}  // namespace ssl
