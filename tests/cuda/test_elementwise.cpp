// The elementwise kernels (_v1 strided, _v2 contiguous, and the unsuffixed choice) against the CPU kernels,
// on contiguous, broadcast, transposed, scalar (either input), empty, 0-dim and misaligned operands.
#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "core/error.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/elementwise.h"
#include "support/device_buffer.h"
#include "support/kernel_check.h"
#include "support/strided_layouts.h"

using namespace ssl;
using kernels::BinaryOp;
using kernels::Strided;
using kernels::UnaryOp;
namespace dev = ssl::kernels::SSL_CUDA_NS;

namespace {

using namespace ssl::test;

template <class T>
double atol() {
  return sizeof(T) == 4 ? 1e-6 : 1e-13;
}
template <class T>
double rtol() {
  return sizeof(T) == 4 ? 2e-6 : 1e-13;
}

std::vector<int> versions(const Layout& l) {
  return l.flat ? std::vector<int>{0, 1, 2} : std::vector<int>{0, 1};
}
const char* version_name(int v) { return v == 0 ? "best" : (v == 1 ? "v1" : "v2"); }

// Where the CPU kernel writes its result: the marker everywhere, which the elements it does not write keep.
template <class T>
std::vector<T> cpu_out(const Layout& l) {
  return std::vector<T>(size_t(extent(l.shape, l.strides[0]) + l.skew), T(-7));
}

template <class T>
void check_unary(const Layout& l, UnaryOp op, double param, std::mt19937_64& rng,
                 const std::vector<int>& which) {
  CAPTURE(l.name);
  const int64_t ndim = int64_t(l.shape.size());
  const std::vector<T> x = random_operand<T>(l, 1, rng, lowest_input(op), 2.0);
  std::vector<T> want = cpu_out<T>(l);
  kernels::cpu::unary<T>(op, ndim, l.shape.data(), {x.data() + l.skew, l.strides[1].data()},
                         {want.data() + l.skew, l.strides[0].data()}, param);
  test::DeviceBuffer<T> dx(x);
  const Strided<const T> xs{dx.get() + l.skew, l.strides[1].data()};
  for (int v : which) {
    CAPTURE(version_name(v));
    test::DeviceBuffer<T> out(initial_out<T>(l));
    const Strided<T> os{out.get() + l.skew, l.strides[0].data()};
    if (v == 0) dev::unary<T>(op, ndim, l.shape.data(), xs, os, param);
    if (v == 1) dev::unary_v1<T>(op, ndim, l.shape.data(), xs, os, param);
    if (v == 2) dev::unary_v2<T>(op, ndim, l.shape.data(), xs, os, param);
    test::check_close(out.download(), test::cast<double>(want), atol<T>(), rtol<T>(), "unary");
  }
  if (!l.flat) {
    test::DeviceBuffer<T> out(initial_out<T>(l));
    CHECK_THROWS_AS(
        dev::unary_v2<T>(op, ndim, l.shape.data(), xs, {out.get() + l.skew, l.strides[0].data()}, param),
        Error);
  }
}

template <class T>
void check_binary(const Layout& l, BinaryOp op, double param, std::mt19937_64& rng,
                  const std::vector<int>& which) {
  CAPTURE(l.name);
  const int64_t ndim = int64_t(l.shape.size());
  const std::vector<T> a = random_operand<T>(l, 1, rng, -2.0, 2.0);
  const std::vector<T> b = random_operand<T>(l, 2, rng, op == BinaryOp::div ? 0.5 : -2.0, 2.0);
  std::vector<T> want = cpu_out<T>(l);
  kernels::cpu::binary<T>(op, ndim, l.shape.data(), {a.data() + l.skew, l.strides[1].data()},
                          {b.data() + l.skew, l.strides[2].data()},
                          {want.data() + l.skew, l.strides[0].data()}, param);
  test::DeviceBuffer<T> da(a), db(b);
  const Strided<const T> as{da.get() + l.skew, l.strides[1].data()},
      bs{db.get() + l.skew, l.strides[2].data()};
  for (int v : which) {
    CAPTURE(version_name(v));
    test::DeviceBuffer<T> out(initial_out<T>(l));
    const Strided<T> os{out.get() + l.skew, l.strides[0].data()};
    if (v == 0) dev::binary<T>(op, ndim, l.shape.data(), as, bs, os, param);
    if (v == 1) dev::binary_v1<T>(op, ndim, l.shape.data(), as, bs, os, param);
    if (v == 2) dev::binary_v2<T>(op, ndim, l.shape.data(), as, bs, os, param);
    test::check_close(out.download(), test::cast<double>(want), atol<T>(), rtol<T>(), "binary");
  }
  if (!l.flat) {
    test::DeviceBuffer<T> out(initial_out<T>(l));
    CHECK_THROWS_AS(
        dev::binary_v2<T>(op, ndim, l.shape.data(), as, bs, {out.get() + l.skew, l.strides[0].data()}, param),
        Error);
  }
}

template <class Src, class Dst>
void check_convert(const Layout& l, std::mt19937_64& rng, const std::vector<int>& which) {
  CAPTURE(l.name);
  const int64_t ndim = int64_t(l.shape.size());
  const std::vector<Src> x = random_operand<Src>(l, 1, rng, -300.0, 300.0);
  std::vector<Dst> want = cpu_out<Dst>(l);
  kernels::cpu::convert<Src, Dst>(ndim, l.shape.data(), {x.data() + l.skew, l.strides[1].data()},
                                  {want.data() + l.skew, l.strides[0].data()});
  test::DeviceBuffer<Src> dx(x);
  const Strided<const Src> xs{dx.get() + l.skew, l.strides[1].data()};
  for (int v : which) {
    CAPTURE(version_name(v));
    test::DeviceBuffer<Dst> out(initial_out<Dst>(l));
    const Strided<Dst> os{out.get() + l.skew, l.strides[0].data()};
    if (v == 0) dev::convert<Src, Dst>(ndim, l.shape.data(), xs, os);
    if (v == 1) dev::convert_v1<Src, Dst>(ndim, l.shape.data(), xs, os);
    if (v == 2) dev::convert_v2<Src, Dst>(ndim, l.shape.data(), xs, os);
    test::check_close(out.download(), test::cast<double>(want), 0, 0, "convert");
  }
}

template <class T>
void check_fill(const Layout& l, const std::vector<int>& which) {
  CAPTURE(l.name);
  const int64_t ndim = int64_t(l.shape.size());
  std::vector<T> want = cpu_out<T>(l);
  kernels::cpu::fill<T>(ndim, l.shape.data(), {want.data() + l.skew, l.strides[0].data()}, T(3));
  for (int v : which) {
    CAPTURE(version_name(v));
    test::DeviceBuffer<T> out(initial_out<T>(l));
    const Strided<T> os{out.get() + l.skew, l.strides[0].data()};
    if (v == 0) dev::fill<T>(ndim, l.shape.data(), os, T(3));
    if (v == 1) dev::fill_v1<T>(ndim, l.shape.data(), os, T(3));
    if (v == 2) dev::fill_v2<T>(ndim, l.shape.data(), os, T(3));
    test::check_close(out.download(), test::cast<double>(want), 0, 0, "fill");
  }
}

const UnaryOp kUnaryOps[] = {UnaryOp::copy,    UnaryOp::neg,  UnaryOp::exp,        UnaryOp::log,
                             UnaryOp::sqrt,    UnaryOp::relu, UnaryOp::leaky_relu, UnaryOp::tanh,
                             UnaryOp::sigmoid, UnaryOp::pow,  UnaryOp::scale,      UnaryOp::add_scalar};
const BinaryOp kBinaryOps[] = {BinaryOp::add, BinaryOp::sub,       BinaryOp::mul,
                               BinaryOp::div, BinaryOp::relu_grad, BinaryOp::leaky_relu_grad};

}  // namespace

// Each op runs once per type through the unsuffixed entry; each version runs on every layout with one op.
// (The emulation starts a host thread per GPU thread at every launch, so the test keeps launches few.)
TEST_CASE("elementwise: unary, every op, float and double, as the CPU") {
  std::mt19937_64 rng(11);
  const Layout flat = layouts()[0];
  for (UnaryOp op : kUnaryOps) {
    CAPTURE(int(op));
    check_unary<float>(flat, op, 1.7, rng, {0});
    check_unary<double>(flat, op, 1.7, rng, {0});
  }
}

TEST_CASE("elementwise: unary, every version and layout, as the CPU") {
  std::mt19937_64 rng(12);
  for (const Layout& l : layouts()) check_unary<float>(l, UnaryOp::sigmoid, 0, rng, versions(l));
}

TEST_CASE("elementwise: binary, every op, float and double, as the CPU") {
  std::mt19937_64 rng(13);
  // A b of its own per element (relu_grad's mask then varies, some elements pass and some do not) and a
  // broadcast scalar b.
  for (const Layout& l : {layouts()[3], layouts()[2]}) {
    for (BinaryOp op : kBinaryOps) {
      CAPTURE(int(op));
      check_binary<float>(l, op, 0.3, rng, {0});
      check_binary<double>(l, op, 0.3, rng, {0});
    }
  }
}

TEST_CASE("elementwise: binary, every version and layout, as the CPU") {
  std::mt19937_64 rng(14);
  for (const Layout& l : layouts()) check_binary<double>(l, BinaryOp::leaky_relu_grad, 0.3, rng, versions(l));
}

TEST_CASE("elementwise: convert between float, double and int64, as the CPU") {
  std::mt19937_64 rng(15);
  for (const Layout& l : layouts()) check_convert<int64_t, float>(l, rng, versions(l));
  const Layout flat = layouts()[0];
  check_convert<float, float>(flat, rng, {0});
  check_convert<float, double>(flat, rng, {0});
  check_convert<float, int64_t>(flat, rng, {0});
  check_convert<double, float>(flat, rng, {0});
  check_convert<double, double>(flat, rng, {0});
  check_convert<double, int64_t>(flat, rng, {0});
  check_convert<int64_t, double>(flat, rng, {0});
  check_convert<int64_t, int64_t>(flat, rng, {0});
}

TEST_CASE("elementwise: strided fill, as the CPU") {
  for (const Layout& l : layouts()) check_fill<float>(l, versions(l));
  check_fill<double>(layouts()[0], {0});
  check_fill<int64_t>(layouts()[0], {0});
}

TEST_CASE("elementwise: more than 8 dims is an error") {
  const Dims shape(9, 2), strides = strides_of(shape);
  test::DeviceBuffer<float> x(512), out(512);
  CHECK_THROWS_AS(dev::unary<float>(UnaryOp::neg, 9, shape.data(), {x.get(), strides.data()},
                                    {out.get(), strides.data()}),
                  Error);
  CHECK_THROWS_AS(dev::fill<float>(9, shape.data(), {out.get(), strides.data()}, 1.f), Error);
}
