// The row-wise kernels' forward values against their definitions in double, on random rows of logits wide
// enough that the max must be subtracted, in float and double, and on enough rows for threads. (Their
// backward passes are checked by finite differences in tests/core/test_gradients.cpp; cross_entropy's
// backward's check of its targets is here.)
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "core/error.h"
#include "kernels/compute_threads.h"
#include "kernels/softmax.h"
#include "support/kernel_check.h"

namespace {

using namespace ssl::test;
namespace cpu = ssl::kernels::cpu;

struct Rows {
  int64_t rows, cols;
};
// One row; a few; and past the threshold for threads (16,384 elements).
const std::vector<Rows> kShapes = {{1, 9}, {7, 10}, {300, 100}};

struct Definitions {
  std::vector<double> softmax, log_softmax, normalized, inv_norm;
  double cross_entropy = 0;
};

template <class T>
Definitions definitions(const Rows& s, const std::vector<T>& x, const std::vector<int64_t>& targets,
                        double eps) {
  Definitions d;
  d.softmax.resize(x.size());
  d.log_softmax.resize(x.size());
  d.normalized.resize(x.size());
  for (int64_t r = 0; r < s.rows; ++r) {
    const T* row = x.data() + r * s.cols;
    double max = -INFINITY, sum = 0, squares = 0;
    for (int64_t j = 0; j < s.cols; ++j) max = std::max(max, double(row[j]));
    for (int64_t j = 0; j < s.cols; ++j)
      sum += std::exp(double(row[j]) - max), squares += double(row[j]) * row[j];
    const double lse = max + std::log(sum), inv = 1 / std::max(std::sqrt(squares), eps);
    for (int64_t j = 0; j < s.cols; ++j) {
      const size_t at = size_t(r * s.cols + j);
      d.log_softmax[at] = double(row[j]) - lse;
      d.softmax[at] = std::exp(d.log_softmax[at]);
      d.normalized[at] = double(row[j]) * inv;
    }
    d.inv_norm.push_back(inv);
    d.cross_entropy += (lse - double(row[targets[size_t(r)]])) / double(s.rows);
  }
  return d;
}

template <class T>
void check_rows(const Rows& s, std::mt19937_64& rng) {
  CAPTURE(s.rows);
  CAPTURE(s.cols);
  const int64_t n = s.rows * s.cols;
  std::vector<T> x = cast<T>(random_vector(n, rng, -30.0, 30.0));
  // A row of zeros (when there are several): L2 normalisation's norm falls back to eps there.
  if (s.rows > 1) std::fill(x.end() - s.cols, x.end(), T(0));
  std::vector<int64_t> targets(static_cast<size_t>(s.rows));
  std::uniform_int_distribution<int64_t> pick(0, s.cols - 1);
  for (auto& t : targets) t = pick(rng);
  const double eps = 1e-12;
  const Definitions want = definitions(s, x, targets, eps);
  const double tol = sizeof(T) == 4 ? 2e-6 : 1e-13;

  std::vector<T> y = poisoned<T>(n);
  cpu::softmax_forward<T>(s.rows, s.cols, x.data(), y.data());
  // Relative only: most probabilities of rows this wide are far below any absolute tolerance.
  check_close(y, want.softmax, 0, sizeof(T) == 4 ? 1e-5 : 1e-12, "softmax");
  y = poisoned<T>(n);
  cpu::log_softmax_forward<T>(s.rows, s.cols, x.data(), y.data());
  check_close(y, want.log_softmax, tol, tol, "log_softmax");
  y = poisoned<T>(n);
  std::vector<T> inv_norm = poisoned<T>(s.rows);
  cpu::l2_normalize_forward<T>(s.rows, s.cols, x.data(), T(eps), y.data(), inv_norm.data());
  check_close(y, want.normalized, tol, tol, "l2_normalize");
  check_close(inv_norm, want.inv_norm, 0, tol, "l2_normalize's inverse norms");
  const T loss = cpu::cross_entropy_forward<T>(s.rows, s.cols, x.data(), targets.data());
  CHECK(double(loss) == doctest::Approx(want.cross_entropy).epsilon(tol));
}

}  // namespace

TEST_CASE("softmax, log_softmax, l2_normalize and cross_entropy forward against their definitions") {
  std::mt19937_64 rng(51);
  const ssl::kernels::ComputeThreads two(2);
  for (const Rows& s : kShapes) {
    check_rows<float>(s, rng);
    check_rows<double>(s, rng);
  }
}

TEST_CASE("cross_entropy backward refuses a target outside the row, as forward does, before writing") {
  const std::vector<float> logits = {0.5f, -1, 2, 1, 0.25f, -0.5f};
  const std::vector<int64_t> targets = {0, 3};
  std::vector<float> gx(6, 7.0f);
  CHECK_THROWS_WITH_AS(
      ssl::kernels::cpu::cross_entropy_backward<float>(2, 3, logits.data(), targets.data(), 1.0f, gx.data()),
      doctest::Contains("cross_entropy: target 3 of row 1 is outside [0, 3)"), ssl::Error);
  CHECK(gx == std::vector<float>(6, 7.0f));
}
