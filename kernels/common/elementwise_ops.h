// Per-element formulas of the elementwise kernels (kernels/elementwise.h), as the GPU runs them. Written for
// both sides (SSL_HD) so that the CUDA kernels and their tests share one definition; each matches the
// lambda of the CPU kernel (kernels/cpu/elementwise.cpp) for the same op, using the float or double maths
// function of the element type (kernels/common/scalar_math.h: expf for float, exp for double).
#pragma once

#include <math.h>

#include "kernels/common/host_device.h"
#include "kernels/common/scalar_math.h"
#include "kernels/elementwise.h"

namespace ssl::ew {

// op(v); `c` is the op's parameter (slope, exponent, scale or added scalar) already in T.
template <kernels::UnaryOp Op, class T>
SSL_HD T unary(T v, T c) {
  using kernels::UnaryOp;
  if constexpr (Op == UnaryOp::copy)
    return v;
  else if constexpr (Op == UnaryOp::neg)
    return -v;
  else if constexpr (Op == UnaryOp::exp)
    return hd::exp(v);
  else if constexpr (Op == UnaryOp::log)
    return hd::log(v);
  else if constexpr (Op == UnaryOp::sqrt)
    return hd::sqrt(v);
  else if constexpr (Op == UnaryOp::relu)
    return v < T(0) ? T(0) : v;  // NaN stays NaN (as PyTorch's, and batch norm's fused ReLU)
  else if constexpr (Op == UnaryOp::leaky_relu)
    return v > T(0) ? v : c * v;
  else if constexpr (Op == UnaryOp::tanh)
    return hd::tanh(v);
  else if constexpr (Op == UnaryOp::sigmoid) {  // split by sign so that exp never overflows
    if (v >= T(0)) return T(1) / (T(1) + hd::exp(-v));
    const T e = hd::exp(v);
    return e / (T(1) + e);
  } else if constexpr (Op == UnaryOp::pow)
    return hd::pow(v, c);
  else if constexpr (Op == UnaryOp::scale)
    return c * v;
  else if constexpr (Op == UnaryOp::add_scalar)
    return v + c;
  else
    return v;  // unreachable: every op is listed above
}

// op(a, b); for the *_grad ops a is the incoming gradient and b the forward input.
template <kernels::BinaryOp Op, class T>
SSL_HD T binary(T a, T b, T c) {
  using kernels::BinaryOp;
  if constexpr (Op == BinaryOp::add)
    return a + b;
  else if constexpr (Op == BinaryOp::sub)
    return a - b;
  else if constexpr (Op == BinaryOp::mul)
    return a * b;
  else if constexpr (Op == BinaryOp::div)
    return a / b;
  else if constexpr (Op == BinaryOp::relu_grad)
    return b > T(0) ? a : T(0);
  else if constexpr (Op == BinaryOp::leaky_relu_grad)
    return b > T(0) ? a : c * a;
  else
    return a;  // unreachable
}

}  // namespace ssl::ew
