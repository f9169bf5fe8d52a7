// Helpers for testing raw kernels against references: random inputs, poisoned outputs, tolerant
// comparison that reports the first mismatches, and central finite differences.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace ssl::test {

inline std::vector<double> random_vector(int64_t n, std::mt19937_64& rng, double lo = -1.0, double hi = 1.0) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(n);
  for (auto& e : v) e = u(rng);
  return v;
}

// count indices drawn uniformly from [0, size): with count > size some must repeat.
inline std::vector<int64_t> random_indices(int64_t count, int64_t size, std::mt19937_64& rng) {
  std::uniform_int_distribution<int64_t> pick(0, size - 1);
  std::vector<int64_t> v(static_cast<size_t>(count));
  for (auto& e : v) e = pick(rng);
  return v;
}

template <class T, class U>
std::vector<T> cast(const std::vector<U>& v) {
  return std::vector<T>(v.begin(), v.end());
}

// An output buffer filled with NaN (the largest value for an integer type, which has no NaN), so that any
// element a kernel forgets to write fails the comparison.
template <class T>
std::vector<T> poisoned(int64_t n) {
  return std::vector<T>(n, std::numeric_limits<T>::has_quiet_NaN ? std::numeric_limits<T>::quiet_NaN()
                                                                 : std::numeric_limits<T>::max());
}

// Fails (once, with the first three offenders) unless |got − ref| ≤ atol + rtol·|ref| everywhere.
template <class T>
void check_close(const std::vector<T>& got, const std::vector<double>& ref, double atol, double rtol,
                 const std::string& what) {
  REQUIRE(got.size() == ref.size());
  int64_t bad = 0;
  std::ostringstream first;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double g = static_cast<double>(got[i]);
    if (!(std::fabs(g - ref[i]) <= atol + rtol * std::fabs(ref[i]))) {
      if (bad < 3) first << " [" << i << "] got " << g << " want " << ref[i] << ";";
      ++bad;
    }
  }
  CHECK_MESSAGE(bad == 0, what << ": " << bad << " of " << ref.size() << " elements off:" << first.str());
}

inline double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double e : v) m = std::max(m, std::fabs(e));
  return m;
}

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Central differences of loss() with respect to every element of v (v is restored afterwards).
template <class F>
std::vector<double> numeric_gradient(std::vector<double>& v, F loss, double h) {
  std::vector<double> g(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const double saved = v[i];
    v[i] = saved + h;
    const double up = loss();
    v[i] = saved - h;
    const double down = loss();
    v[i] = saved;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

}  // namespace ssl::test
