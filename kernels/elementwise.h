// Elementwise kernels on strided operands. Every operand comes with its own strides (in elements), already
// aligned to the output's dims, with stride 0 where it is broadcast; so one kernel serves contiguous
// tensors, transposed views and broadcasting alike.
#pragma once

#include <cstdint>

namespace ssl::kernels {

enum class UnaryOp { copy, neg, exp, log, sqrt, relu, leaky_relu, tanh, sigmoid, pow, scale, add_scalar };
enum class BinaryOp {
  add,
  sub,
  mul,
  div,
  relu_grad,        // a * (b > 0): the gradient of relu at b
  leaky_relu_grad,  // a * (b > 0 ? 1 : param)
};

// A strided view on raw memory: pointer to the first element and one stride per output dim.
template <class T>
struct Strided {
  T* data;
  const int64_t* strides;
};

namespace cpu {

// out = op(x) elementwise; `param` is the slope, exponent, scale or added scalar where the op has one.
template <class T>
void unary(UnaryOp op, int64_t ndim, const int64_t* shape, Strided<const T> x, Strided<T> out,
           double param = 0);

template <class T>
void binary(BinaryOp op, int64_t ndim, const int64_t* shape, Strided<const T> a, Strided<const T> b,
            Strided<T> out, double param = 0);

// out = x converted to another element type (also a plain strided copy when Src == Dst). A floating value
// becomes an integer as CUDA's conversion makes it: truncated toward zero, held at the integer type's range,
// and 0 for NaN (C++'s cast leaves those cases undefined).
template <class Src, class Dst>
void convert(int64_t ndim, const int64_t* shape, Strided<const Src> x, Strided<Dst> out);

template <class T>
void fill(int64_t ndim, const int64_t* shape, Strided<T> out, T value);

}  // namespace cpu
}  // namespace ssl::kernels
