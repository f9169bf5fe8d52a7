// Reductions: sums that several threads share (the same bits on every run, whatever the timing), the
// reductions over a middle axis against their definitions, and the median the bench harnesses report.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "kernels/common/median.h"
#include "kernels/compute_threads.h"
#include "kernels/cpu/thread_partials.h"
#include "kernels/optim.h"
#include "kernels/reduce.h"
#include "support/kernel_check.h"

using namespace ssl;

TEST_CASE("ordered_sums and sum_of_squares give the same bits on every run with four threads") {
  std::mt19937_64 rng(5);
  const std::vector<float> x = test::cast<float>(test::random_vector(1 << 18, rng));
  double first = 0;
  int differing = 0;
  {
    // Four: with two threads any order of adding their shares gives the same bits.
    const ssl::kernels::ComputeThreads four(4);
    first = kernels::cpu::sum_of_squares<float>(int64_t(x.size()), x.data());
    for (int run = 0; run < 100; ++run)
      differing += kernels::cpu::sum_of_squares<float>(int64_t(x.size()), x.data()) != first ? 1 : 0;
  }
  CHECK(differing == 0);

  // Against the sum in plain order: equal up to rounding, and the two accumulators kept apart.
  double plain = 0, plain_abs = 0;
  for (float v : x) plain += double(v) * double(v), plain_abs += std::abs(double(v));
  const std::array<double, 2> s =
      kernels::cpu::ordered_sums<2>(int64_t(x.size()), true, [&](int64_t i, std::array<double, 2>& acc) {
        acc[0] += double(x[size_t(i)]) * double(x[size_t(i)]);
        acc[1] += std::abs(double(x[size_t(i)]));
      });
  CHECK(s[0] == doctest::Approx(plain).epsilon(1e-12));
  CHECK(s[1] == doctest::Approx(plain_abs).epsilon(1e-12));
  CHECK(first == doctest::Approx(plain).epsilon(1e-12));
}

namespace {

// [outer, r, inner] views: row sums (inner 1), column sums, and both past the threshold for threads
// (32,768 elements).
struct MiddleCase {
  int64_t outer, r, inner;
};
const std::vector<MiddleCase> kMiddleCases = {{1, 7, 1}, {4, 5, 3}, {3, 1, 4}, {64, 600, 1}, {3, 90, 170}};

template <class T>
void check_middle(const MiddleCase& c, std::mt19937_64& rng) {
  CAPTURE(c.outer);
  CAPTURE(c.r);
  CAPTURE(c.inner);
  const std::vector<T> x = test::cast<T>(test::random_vector(c.outer * c.r * c.inner, rng));
  const std::vector<T> gy = test::cast<T>(test::random_vector(c.outer * c.inner, rng));
  std::vector<double> sum_ref(size_t(c.outer * c.inner), 0.0), max_ref(sum_ref.size()), gx_ref(x.size(), 0.0);
  std::vector<int64_t> arg_ref(sum_ref.size());
  for (int64_t o = 0; o < c.outer; ++o)
    for (int64_t i = 0; i < c.inner; ++i) {
      const size_t at = size_t(o * c.inner + i);
      max_ref[at] = -std::numeric_limits<double>::infinity();
      for (int64_t k = 0; k < c.r; ++k) {
        const double v = double(x[size_t((o * c.r + k) * c.inner + i)]);
        sum_ref[at] += v;
        if (v > max_ref[at]) max_ref[at] = v, arg_ref[at] = k;
      }
      gx_ref[size_t((o * c.r + arg_ref[at]) * c.inner + i)] = double(gy[at]);
    }
  std::vector<T> sum = test::poisoned<T>(int64_t(sum_ref.size())), max = sum,
                 gx = test::poisoned<T>(int64_t(x.size()));
  std::vector<int64_t> arg = test::poisoned<int64_t>(int64_t(sum_ref.size()));
  kernels::cpu::sum_middle<T>(c.outer, c.r, c.inner, x.data(), sum.data());
  // Both kernels add in double: a float result is the double sum rounded once.
  test::check_close(sum, sum_ref, 1e-13, sizeof(T) == 4 ? 1e-7 : 1e-13, "sum_middle");
  kernels::cpu::max_middle<T>(c.outer, c.r, c.inner, x.data(), max.data(), arg.data());
  test::check_close(max, max_ref, 0, 0, "max_middle values");
  test::check_close(arg, test::cast<double>(arg_ref), 0, 0, "max_middle indices");
  kernels::cpu::max_middle_backward<T>(c.outer, c.r, c.inner, gy.data(), arg.data(), gx.data());
  test::check_close(gx, gx_ref, 0, 0, "max_middle_backward");
}

}  // namespace

TEST_CASE("sum_middle, max_middle and its backward against their definitions, threaded and not") {
  std::mt19937_64 rng(7);
  const ssl::kernels::ComputeThreads two(2);
  for (const auto& c : kMiddleCases) {
    check_middle<float>(c, rng);
    check_middle<double>(c, rng);
  }
}

TEST_CASE("max_middle takes the first of equal maxima, and a NaN over any number") {
  // Three columns of [1, r = 4, 3]: a tie at k = 1 and 3; a NaN at k = 2 after a larger number; -inf only.
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x = {0, 5,   -inf,  //
                                2, 1,   -inf,  //
                                1, nan, -inf,  //
                                2, 9,   -inf};
  std::vector<float> values(3);
  std::vector<int64_t> indices(3);
  kernels::cpu::max_middle<float>(1, 4, 3, x.data(), values.data(), indices.data());
  CHECK(values[0] == 2);
  CHECK(indices[0] == 1);
  CHECK(std::isnan(values[1]));
  CHECK(indices[1] == 2);
  CHECK(values[2] == -inf);
  CHECK(indices[2] == 0);
}

TEST_CASE("median: the middle value, or the mean of the two middle values") {
  CHECK(kernels::median({3, 1, 2}) == 2);
  CHECK(kernels::median({4, 1, 3, 2}) == 2.5);  // as Python's statistics.median
  CHECK(kernels::median({7}) == 7);
  CHECK(kernels::median({5, 5, 1, 9}) == 5);
}
