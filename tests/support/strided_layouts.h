// Layouts of elementwise operands for the kernel tests: contiguous, broadcast, transposed, scalar, 0-dim,
// empty, many-dimensional and misaligned, each with its shape and every operand's strides; random operands
// (from the lowest input each unary op takes) and poisoned outputs that fit them.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/elementwise.h"
#include "support/kernel_check.h"

namespace ssl::test {

using Dims = std::vector<int64_t>;

// Row-major strides of `shape`, with 0 for the dims where keep[d] is false (a broadcast operand).
inline Dims strides_of(const Dims& shape, std::vector<bool> keep = {}) {
  Dims s(shape.size(), 0);
  int64_t step = 1;
  for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
    if (!keep.empty() && !keep[d]) continue;
    s[d] = step;
    step *= shape[d];
  }
  return s;
}
// Strides of a 2-d shape stored column-major (a transposed view).
inline Dims transposed(const Dims& shape) { return {1, shape[0]}; }

inline int64_t extent(const Dims& shape, const Dims& strides) {  // elements an operand spans (strides >= 0)
  int64_t e = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0) return 1;
    e += (shape[d] - 1) * strides[d];
  }
  return e;
}

// One layout: the shape and the strides of out, then of up to two inputs; `flat` when the operands are one
// contiguous run (the CUDA kernels' _v2 applies); `skew` moves every pointer one element off its
// allocation's start (so that CUDA's _v2 cannot use packs).
struct Layout {
  const char* name;
  Dims shape;
  std::vector<Dims> strides;  // out, a, b
  bool flat;
  int skew = 0;
};

inline std::vector<Layout> layouts() {
  const Dims s1{1027}, s2{5, 4, 9}, s3{6, 37}, s4{13, 9}, s6{2, 1, 3, 1, 2, 1, 2, 3}, s7{3, 0, 2}, s9{8, 11};
  return {
      {"contiguous", s1, {strides_of(s1), strides_of(s1), strides_of(s1)}, true},
      {"broadcast rows and columns",
       s2,
       {strides_of(s2), strides_of(s2, {true, false, true}), strides_of(s2, {false, false, true})},
       false},
      {"broadcast scalar", s3, {strides_of(s3), strides_of(s3), Dims{0, 0}}, true},
      // The one input of unary and convert, and binary's first, a scalar: in packs, and element by element.
      {"broadcast scalar first", s3, {strides_of(s3), Dims{0, 0}, strides_of(s3)}, true},
      {"broadcast scalar first, misaligned", s3, {strides_of(s3), Dims{0, 0}, strides_of(s3)}, true, 1},
      {"transposed input", s4, {strides_of(s4), transposed(s4), strides_of(s4)}, false},
      {"0-dim", {}, {{}, {}, {}}, true},
      {"8 dims", s6, {strides_of(s6), strides_of(s6), strides_of(s6)}, true},
      {"empty", s7, {strides_of(s7), strides_of(s7), strides_of(s7)}, true},
      {"misaligned", s1, {strides_of(s1), strides_of(s1), strides_of(s1)}, true, 1},
      {"transposed output", s9, {transposed(s9), strides_of(s9), strides_of(s9)}, false},
  };
}

// Random host data for operand k of a layout (plus the skew), values in [lo, hi], never zero.
template <class T>
std::vector<T> random_operand(const Layout& l, int k, std::mt19937_64& rng, double lo, double hi) {
  std::vector<T> v = cast<T>(random_vector(extent(l.shape, l.strides[k]) + l.skew, rng, lo, hi));
  for (T& e : v)
    if (e == T(0)) e = T(hi);  // integers round small values to 0
  return v;
}

// The lowest input a unary op's test draws: above 0 where the op is defined only there, else negative, so
// that both signs are seen (sigmoid's two branches, relu's mask).
inline double lowest_input(kernels::UnaryOp op) {
  using kernels::UnaryOp;
  return op == UnaryOp::log || op == UnaryOp::sqrt || op == UnaryOp::pow ? 0.1 : -2.0;
}

inline int64_t elements(const Dims& shape) {
  return std::accumulate(shape.begin(), shape.end(), int64_t(1), std::multiplies<>());
}

// The output's initial contents: poison (NaN, or the largest integer) where the kernel must write, a marker
// in the skewed-off element and everywhere when there is nothing to write (the kernel must leave it).
template <class T>
std::vector<T> initial_out(const Layout& l) {
  const T poison = std::numeric_limits<T>::has_quiet_NaN ? std::numeric_limits<T>::quiet_NaN()
                                                         : std::numeric_limits<T>::max();
  std::vector<T> v(extent(l.shape, l.strides[0]) + l.skew, elements(l.shape) == 0 ? T(-7) : poison);
  for (int i = 0; i < l.skew; ++i) v[i] = T(-7);
  return v;
}

}  // namespace ssl::test
