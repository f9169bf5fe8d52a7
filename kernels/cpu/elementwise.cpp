#include "kernels/elementwise.h"

#include <cmath>
#include <limits>
#include <type_traits>

#include "core/error.h"
#include "kernels/cpu/strided_loop.h"

namespace ssl::kernels::cpu {

namespace {

// Applies f to one run; the contiguous case is a plain loop the compiler vectorises.
template <class Out, class In, class F>
void map_unary(std::array<char*, 2> p, std::array<int64_t, 2> s, int64_t n, F f) {
  Out* out = reinterpret_cast<Out*>(p[0]);
  const In* x = reinterpret_cast<const In*>(p[1]);
  if (s[0] == 1 && s[1] == 1) {
    for (int64_t i = 0; i < n; ++i) out[i] = f(x[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) out[i * s[0]] = f(x[i * s[1]]);
  }
}

template <class T, class F>
void map_binary(std::array<char*, 3> p, std::array<int64_t, 3> s, int64_t n, F f) {
  T* out = reinterpret_cast<T*>(p[0]);
  const T* a = reinterpret_cast<const T*>(p[1]);
  const T* b = reinterpret_cast<const T*>(p[2]);
  if (s[0] == 1 && s[1] == 1 && s[2] == 1) {
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
  } else if (s[0] == 1 && s[1] == 1 && s[2] == 0) {  // a row against a broadcast scalar
    const T bv = b[0];
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], bv);
  } else {
    for (int64_t i = 0; i < n; ++i) out[i * s[0]] = f(a[i * s[1]], b[i * s[2]]);
  }
}

template <class Out, class In, class F>
void run_unary(int64_t ndim, const int64_t* shape, Strided<const In> x, Strided<Out> out, F f) {
  strided_loop<2>(
      ndim, shape, {reinterpret_cast<char*>(out.data), (char*)(x.data)}, {out.strides, x.strides},
      {int64_t(sizeof(Out)), int64_t(sizeof(In))},
      [&](std::array<char*, 2> p, std::array<int64_t, 2> s, int64_t n) { map_unary<Out, In>(p, s, n, f); });
}

}  // namespace

template <class T>
void unary(UnaryOp op, int64_t ndim, const int64_t* shape, Strided<const T> x, Strided<T> out, double param) {
  const T c = T(param);
  switch (op) {
    case UnaryOp::copy:
      return run_unary(ndim, shape, x, out, [](T v) { return v; });
    case UnaryOp::neg:
      return run_unary(ndim, shape, x, out, [](T v) { return -v; });
    case UnaryOp::exp:
      return run_unary(ndim, shape, x, out, [](T v) { return std::exp(v); });
    case UnaryOp::log:
      return run_unary(ndim, shape, x, out, [](T v) { return std::log(v); });
    case UnaryOp::sqrt:
      return run_unary(ndim, shape, x, out, [](T v) { return std::sqrt(v); });
    case UnaryOp::relu:
      return run_unary(ndim, shape, x, out, [](T v) { return v < T(0) ? T(0) : v; });  // NaN stays NaN
    case UnaryOp::leaky_relu:
      return run_unary(ndim, shape, x, out, [c](T v) { return v > T(0) ? v : c * v; });
    case UnaryOp::tanh:
      return run_unary(ndim, shape, x, out, [](T v) { return std::tanh(v); });
    case UnaryOp::sigmoid:  // split by sign so that exp never overflows
      return run_unary(ndim, shape, x, out, [](T v) {
        if (v >= T(0)) return T(1) / (T(1) + std::exp(-v));
        const T e = std::exp(v);
        return e / (T(1) + e);
      });
    case UnaryOp::pow:
      return run_unary(ndim, shape, x, out, [c](T v) { return std::pow(v, c); });
    case UnaryOp::scale:
      return run_unary(ndim, shape, x, out, [c](T v) { return c * v; });
    case UnaryOp::add_scalar:
      return run_unary(ndim, shape, x, out, [c](T v) { return v + c; });
  }
  throw Error("unary: unknown op");
}

template <class T>
void binary(BinaryOp op, int64_t ndim, const int64_t* shape, Strided<const T> a, Strided<const T> b,
            Strided<T> out, double param) {
  const T c = T(param);
  auto run = [&](auto f) {
    strided_loop<3>(
        ndim, shape, {reinterpret_cast<char*>(out.data), (char*)(a.data), (char*)(b.data)},
        {out.strides, a.strides, b.strides}, {int64_t(sizeof(T)), int64_t(sizeof(T)), int64_t(sizeof(T))},
        [&](std::array<char*, 3> p, std::array<int64_t, 3> s, int64_t n) { map_binary<T>(p, s, n, f); });
  };
  switch (op) {
    case BinaryOp::add:
      return run([](T x, T y) { return x + y; });
    case BinaryOp::sub:
      return run([](T x, T y) { return x - y; });
    case BinaryOp::mul:
      return run([](T x, T y) { return x * y; });
    case BinaryOp::div:
      return run([](T x, T y) { return x / y; });
    case BinaryOp::relu_grad:
      return run([](T g, T x) { return x > T(0) ? g : T(0); });
    case BinaryOp::leaky_relu_grad:
      return run([c](T g, T x) { return x > T(0) ? g : c * g; });
  }
  throw Error("binary: unknown op");
}

// Src to Dst as kernels/elementwise.h's convert says: floating to integer is truncated, saturated, NaN → 0.
template <class Dst, class Src>
Dst converted(Src v) {
  if constexpr (std::is_floating_point_v<Src> && std::is_integral_v<Dst>) {
    // 2^63 as a Src is exact; every Src below it and at least -2^63 converts without overflow.
    constexpr Src limit = Src(std::numeric_limits<Dst>::max()) + Src(1);
    if (std::isnan(v)) return 0;
    if (v >= limit) return std::numeric_limits<Dst>::max();
    if (v < -limit) return std::numeric_limits<Dst>::min();
  }
  return static_cast<Dst>(v);
}

template <class Src, class Dst>
void convert(int64_t ndim, const int64_t* shape, Strided<const Src> x, Strided<Dst> out) {
  run_unary(ndim, shape, x, out, [](Src v) { return converted<Dst>(v); });
}

template <class T>
void fill(int64_t ndim, const int64_t* shape, Strided<T> out, T value) {
  strided_loop<1>(ndim, shape, {reinterpret_cast<char*>(out.data)}, {out.strides}, {int64_t(sizeof(T))},
                  [&](std::array<char*, 1> p, std::array<int64_t, 1> s, int64_t n) {
                    T* o = reinterpret_cast<T*>(p[0]);
                    for (int64_t i = 0; i < n; ++i) o[i * s[0]] = value;
                  });
}

#define SSL_INSTANTIATE(T)                                                                                   \
  template void unary<T>(UnaryOp, int64_t, const int64_t*, Strided<const T>, Strided<T>, double);            \
  template void binary<T>(BinaryOp, int64_t, const int64_t*, Strided<const T>, Strided<const T>, Strided<T>, \
                          double);                                                                           \
  template void fill<T>(int64_t, const int64_t*, Strided<T>, T);
SSL_INSTANTIATE(float)
SSL_INSTANTIATE(double)
#undef SSL_INSTANTIATE
template void fill<int64_t>(int64_t, const int64_t*, Strided<int64_t>, int64_t);

#define SSL_INSTANTIATE_CONVERT(S, D) \
  template void convert<S, D>(int64_t, const int64_t*, Strided<const S>, Strided<D>);
SSL_INSTANTIATE_CONVERT(float, float)
SSL_INSTANTIATE_CONVERT(float, double)
SSL_INSTANTIATE_CONVERT(float, int64_t)
SSL_INSTANTIATE_CONVERT(double, float)
SSL_INSTANTIATE_CONVERT(double, double)
SSL_INSTANTIATE_CONVERT(double, int64_t)
SSL_INSTANTIATE_CONVERT(int64_t, float)
SSL_INSTANTIATE_CONVERT(int64_t, double)
SSL_INSTANTIATE_CONVERT(int64_t, int64_t)
#undef SSL_INSTANTIATE_CONVERT

}  // namespace ssl::kernels::cpu
