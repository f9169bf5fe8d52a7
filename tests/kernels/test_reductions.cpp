// Reductions: sums that several threads share (the same bits on every run, whatever the timing), and the
// median the bench harnesses report.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/common/median.h"
#include "kernels/compute_threads.h"
#include "kernels/cpu/thread_partials.h"
#include "kernels/optim.h"
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

TEST_CASE("median: the middle value, or the mean of the two middle values") {
  CHECK(kernels::median({3, 1, 2}) == 2);
  CHECK(kernels::median({4, 1, 3, 2}) == 2.5);  // as Python's statistics.median
  CHECK(kernels::median({7}) == 7);
  CHECK(kernels::median({5, 5, 1, 9}) == 5);
}
