// Shapes and strides are plain vectors of int64: dims from outermost to innermost, strides in elements.
#pragma once

#include <cstdint>
#include <vector>

#include "core/error.h"

namespace ssl {

using Shape = std::vector<int64_t>;

// The number of elements; a count past 2^63 - 1 is refused rather than wrapped around.
inline int64_t numel_of(const Shape& s) {
  int64_t n = 1;
  bool overflow = false;
  for (int64_t d : s) overflow |= __builtin_mul_overflow(n, d, &n);
  if (overflow) {
    for (int64_t d : s)
      if (d == 0) return 0;  // the product passed through a wrapped value on its way to 0
    throw Error(str_cat("shape ", s, " has more than 2^63 - 1 elements"));
  }
  return n;
}

// Row-major (C-order) strides for a shape.
inline Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

// Wraps a possibly negative dim into [0, ndim); throws naming `op` when out of range.
inline int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  SSL_CHECK(dim >= -ndim && dim < ndim && ndim > 0, op, ": dim ", dim, " out of range for a tensor with ",
            ndim, " dims");
  return dim < 0 ? dim + ndim : dim;
}

// Whether `from` reads as `to` by broadcasting: no more dims, each (aligned from the right) equal or 1.
inline bool broadcasts_to(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  const size_t lead = to.size() - from.size();
  for (size_t i = 0; i < from.size(); ++i)
    if (from[i] != to[lead + i] && from[i] != 1) return false;
  return true;
}

// NumPy broadcasting: dims aligned from the right, each pair equal or one of them 1.
inline Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    SSL_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", a, " and ", b,
              " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

}  // namespace ssl
