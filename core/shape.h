// Shapes and strides are plain vectors of int64: dims from outermost to innermost, strides in elements.
#pragma once

#include <cstdint>
#include <vector>

#include "core/error.h"

namespace ssl {

using Shape = std::vector<int64_t>;

inline int64_t numel_of(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
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
