// The CPU elementwise kernels against each op's definition, evaluated in double element by element at the
// offsets the strides give: every op, in float and double, on contiguous, broadcast, transposed, scalar,
// 0-dim, empty, many-dimensional and misaligned operands, and on operands long enough for the threaded loop.
// (The CUDA kernels are checked against these, so these must be right on their own.)
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "kernels/compute_threads.h"
#include "kernels/elementwise.h"
#include "support/kernel_check.h"
#include "support/strided_layouts.h"

namespace {

using namespace ssl::test;
using ssl::kernels::BinaryOp;
using ssl::kernels::UnaryOp;
namespace cpu = ssl::kernels::cpu;

// The shared layouts, and two past the loop's threshold for threads (32,768 elements): one long
// contiguous run, and rows against a broadcast row (several runs).
std::vector<Layout> cpu_layouts() {
  std::vector<Layout> all = layouts();
  const Dims long_run{40000}, rows{300, 130};
  all.push_back({"long contiguous",
                 long_run,
                 {strides_of(long_run), strides_of(long_run), strides_of(long_run)},
                 true});
  all.push_back({"long, broadcast row",
                 rows,
                 {strides_of(rows), strides_of(rows), strides_of(rows, {false, true})},
                 false});
  return all;
}

// Calls visit(offsets) for every element of the layout's shape, offsets[k] being operand k's offset
// (skew included) for that element.
void for_each_element(const Layout& l, const std::function<void(const int64_t*)>& visit) {
  const int64_t nd = int64_t(l.shape.size()), n = elements(l.shape);
  std::vector<int64_t> idx(size_t(nd), 0);
  for (int64_t e = 0; e < n; ++e) {
    int64_t offsets[3];
    for (size_t k = 0; k < 3; ++k) {
      offsets[k] = l.skew;
      for (int64_t d = 0; d < nd; ++d) offsets[k] += idx[size_t(d)] * l.strides[k][size_t(d)];
    }
    visit(offsets);
    for (int64_t d = nd - 1; d >= 0 && ++idx[size_t(d)] == l.shape[size_t(d)]; --d) idx[size_t(d)] = 0;
  }
}

// ---- the definitions ----

double unary_definition(UnaryOp op, double x, double c) {
  switch (op) {
    case UnaryOp::copy:
      return x;
    case UnaryOp::neg:
      return -x;
    case UnaryOp::exp:
      return std::exp(x);
    case UnaryOp::log:
      return std::log(x);
    case UnaryOp::sqrt:
      return std::sqrt(x);
    case UnaryOp::relu:
      return x > 0 ? x : 0.0;
    case UnaryOp::leaky_relu:
      return x > 0 ? x : c * x;
    case UnaryOp::tanh:
      return std::tanh(x);
    case UnaryOp::sigmoid:
      return 1.0 / (1.0 + std::exp(-x));
    case UnaryOp::pow:
      return std::pow(x, c);
    case UnaryOp::scale:
      return c * x;
    case UnaryOp::add_scalar:
      return x + c;
  }
  FAIL("unknown unary op");
  return 0;
}

double binary_definition(BinaryOp op, double a, double b, double c) {
  switch (op) {
    case BinaryOp::add:
      return a + b;
    case BinaryOp::sub:
      return a - b;
    case BinaryOp::mul:
      return a * b;
    case BinaryOp::div:
      return a / b;
    case BinaryOp::relu_grad:
      return b > 0 ? a : 0.0;
    case BinaryOp::leaky_relu_grad:
      return b > 0 ? a : c * a;
  }
  FAIL("unknown binary op");
  return 0;
}

const UnaryOp kUnaryOps[] = {UnaryOp::copy,    UnaryOp::neg,  UnaryOp::exp,        UnaryOp::log,
                             UnaryOp::sqrt,    UnaryOp::relu, UnaryOp::leaky_relu, UnaryOp::tanh,
                             UnaryOp::sigmoid, UnaryOp::pow,  UnaryOp::scale,      UnaryOp::add_scalar};
const BinaryOp kBinaryOps[] = {BinaryOp::add, BinaryOp::sub,       BinaryOp::mul,
                               BinaryOp::div, BinaryOp::relu_grad, BinaryOp::leaky_relu_grad};

template <class T>
double tolerance() {
  return sizeof(T) == 4 ? 2e-6 : 1e-14;
}

// The whole output buffer as it must be afterwards: the definition where the kernel writes, the initial
// marker (which it must leave) elsewhere.
template <class T>
std::vector<double> expected_buffer(const Layout& l, const std::function<double(const int64_t*)>& value) {
  std::vector<double> want = cast<double>(initial_out<T>(l));
  for_each_element(l, [&](const int64_t* off) { want[size_t(off[0])] = value(off); });
  return want;
}

template <class T>
void check_unary(const Layout& l, UnaryOp op, double param, std::mt19937_64& rng) {
  CAPTURE(l.name);
  const std::vector<T> x = random_operand<T>(l, 1, rng, lowest_input(op), 4.0);
  std::vector<T> out = initial_out<T>(l);
  cpu::unary<T>(op, int64_t(l.shape.size()), l.shape.data(), {x.data() + l.skew, l.strides[1].data()},
                {out.data() + l.skew, l.strides[0].data()}, param);
  const double c = double(T(param));  // the kernel's parameter, rounded to T as it is there
  check_close(out,
              expected_buffer<T>(
                  l, [&](const int64_t* off) { return unary_definition(op, double(x[size_t(off[1])]), c); }),
              tolerance<T>(), tolerance<T>(), "unary");
}

template <class T>
void check_binary(const Layout& l, BinaryOp op, double param, std::mt19937_64& rng) {
  CAPTURE(l.name);
  const std::vector<T> a = random_operand<T>(l, 1, rng, -2.0, 2.0);
  const std::vector<T> b = random_operand<T>(l, 2, rng, op == BinaryOp::div ? 0.5 : -2.0, 2.0);
  std::vector<T> out = initial_out<T>(l);
  cpu::binary<T>(op, int64_t(l.shape.size()), l.shape.data(), {a.data() + l.skew, l.strides[1].data()},
                 {b.data() + l.skew, l.strides[2].data()}, {out.data() + l.skew, l.strides[0].data()}, param);
  const double c = double(T(param));
  check_close(out,
              expected_buffer<T>(l,
                                 [&](const int64_t* off) {
                                   return binary_definition(op, double(a[size_t(off[1])]),
                                                            double(b[size_t(off[2])]), c);
                                 }),
              tolerance<T>(), tolerance<T>(), "binary");
}

}  // namespace

TEST_CASE("cpu::unary: every op on every layout, float and double, against its definition") {
  std::mt19937_64 rng(21);
  const ssl::kernels::ComputeThreads two(2);  // the long layouts are shared among threads
  for (const Layout& l : cpu_layouts())
    for (UnaryOp op : kUnaryOps) {
      CAPTURE(int(op));
      check_unary<float>(l, op, 1.7, rng);
      check_unary<double>(l, op, 1.7, rng);
    }
}

TEST_CASE("cpu::binary: every op on every layout, float and double, against its definition") {
  std::mt19937_64 rng(22);
  const ssl::kernels::ComputeThreads two(2);  // the long layouts are shared among threads
  for (const Layout& l : cpu_layouts())
    for (BinaryOp op : kBinaryOps) {
      CAPTURE(int(op));
      check_binary<float>(l, op, 0.3, rng);
      check_binary<double>(l, op, 0.3, rng);
    }
}

TEST_CASE("cpu::convert and cpu::fill on every layout: truncation toward zero, exact copies") {
  std::mt19937_64 rng(23);
  const ssl::kernels::ComputeThreads two(2);  // the long layouts are shared among threads
  for (const Layout& l : cpu_layouts()) {
    CAPTURE(l.name);
    const int64_t nd = int64_t(l.shape.size());
    const std::vector<double> x = random_operand<double>(l, 1, rng, -300.0, 300.0);
    std::vector<int64_t> truncated = initial_out<int64_t>(l);
    cpu::convert<double, int64_t>(nd, l.shape.data(), {x.data() + l.skew, l.strides[1].data()},
                                  {truncated.data() + l.skew, l.strides[0].data()});
    check_close(
        truncated,
        expected_buffer<int64_t>(l, [&](const int64_t* off) { return std::trunc(x[size_t(off[1])]); }), 0, 0,
        "convert double to int64");
    std::vector<float> filled = initial_out<float>(l);
    cpu::fill<float>(nd, l.shape.data(), {filled.data() + l.skew, l.strides[0].data()}, 2.5f);
    check_close(filled, expected_buffer<float>(l, [](const int64_t*) { return 2.5; }), 0, 0, "fill");
  }
}
