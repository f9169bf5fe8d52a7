// The middle-axis reductions against their CPU twins (kernels/cpu/reduce.cpp): row and column layouts,
// odd sizes, ties and NaNs for the maximum, every output poisoned first.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <tuple>
#include <vector>

#include "kernels/cuda/reduce.h"
#include "kernels/reduce.h"
#include "support/device_buffer.h"
#include "support/kernel_check.h"

using namespace ssl;
namespace dev = ssl::kernels::SSL_CUDA_NS;

namespace {

// (outer, r, inner): rows (inner == 1) shorter and longer than a warp, columns, and odd everything.
const std::vector<std::tuple<int64_t, int64_t, int64_t>> kShapes = {{1, 1, 1},   {5, 3, 1},   {9, 100, 1},
                                                                    {1, 7, 300}, {3, 33, 17}, {4, 2, 257}};

template <class T>
void check_sum() {
  std::mt19937_64 rng(11);
  for (auto [outer, r, inner] : kShapes) {
    CAPTURE(outer);
    CAPTURE(r);
    CAPTURE(inner);
    const std::vector<T> x = test::cast<T>(test::random_vector(outer * r * inner, rng));
    std::vector<T> y(outer * inner);
    kernels::cpu::sum_middle<T>(outer, r, inner, x.data(), y.data());
    const test::DeviceBuffer<T> dx(x);
    auto dy = test::DeviceBuffer<T>::poisoned(outer * inner);
    dev::sum_middle<T>(outer, r, inner, dx.get(), dy.get());
    const double tol = sizeof(T) == 4 ? 1e-6 : 1e-14;
    test::check_close(dy.download(), test::cast<double>(y), tol, tol, "sum");
    if (inner > 1) CHECK(dy.download() == y);  // columns add in the CPU's order: the same bits
  }
}

template <class T>
void check_max() {
  std::mt19937_64 rng(12);
  for (auto [outer, r, inner] : kShapes) {
    CAPTURE(outer);
    CAPTURE(r);
    CAPTURE(inner);
    const int64_t n = outer * r * inner, m = outer * inner;
    // Values on a coarse grid, so that ties are common and the first index must win them.
    std::vector<T> x(n);
    for (auto& v : x) v = T(int64_t(rng() % 7) - 3);
    if (n > 5) x[n / 2] = x[n - 2] = std::numeric_limits<T>::quiet_NaN();  // the first NaN of its row wins
    std::vector<T> values(m), gy = test::cast<T>(test::random_vector(m, rng)), gx(n);
    std::vector<int64_t> indices(m);
    kernels::cpu::max_middle<T>(outer, r, inner, x.data(), values.data(), indices.data());
    kernels::cpu::max_middle_backward<T>(outer, r, inner, gy.data(), indices.data(), gx.data());

    const test::DeviceBuffer<T> dx(x), dgy(gy);
    auto dvalues = test::DeviceBuffer<T>::poisoned(m), dgx = test::DeviceBuffer<T>::poisoned(n);
    auto dindices = test::DeviceBuffer<int64_t>::poisoned(m);
    dev::max_middle<T>(outer, r, inner, dx.get(), dvalues.get(), dindices.get());
    CHECK(dindices.download() == indices);
    const std::vector<T> got = dvalues.download();
    for (int64_t k = 0; k < m; ++k)
      CHECK((got[k] == values[k] || (std::isnan(got[k]) && std::isnan(values[k]))));
    const test::DeviceBuffer<int64_t> dindices_ref(indices);
    dev::max_middle_backward<T>(outer, r, inner, dgy.get(), dindices_ref.get(), dgx.get());
    CHECK(dgx.download() == gx);
  }
}

}  // namespace

TEST_CASE("reduce: sum_middle matches the CPU") {
  check_sum<float>();
  check_sum<double>();
}

TEST_CASE("reduce: max_middle and its backward match the CPU, ties and NaNs included") {
  check_max<float>();
  check_max<double>();
}
