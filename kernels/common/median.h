// The median of a sample of timings, for the bench harnesses (host code only).
#pragma once

#include <algorithm>
#include <vector>

namespace ssl::kernels {

// The middle value, or the mean of the two middle values when the count is even (as Python's
// statistics.median, which the PyTorch comparison script uses). The sample must not be empty.
inline double median(std::vector<double> v) {
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + mid, v.end());
  if (v.size() % 2 == 1) return v[mid];
  return (*std::max_element(v.begin(), v.begin() + mid) + v[mid]) / 2;
}

}  // namespace ssl::kernels
