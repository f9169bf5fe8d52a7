// The indexing kernels against their definitions, written as plain loops over every index: index_select
// and its adjoint index_add, gather and its adjoint scatter_add, along the first, a middle and the last dim,
// with repeated indices (which must add up in the adjoints) and indices out of range (an error).
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "core/error.h"
#include "kernels/compute_threads.h"
#include "kernels/index.h"
#include "support/kernel_check.h"

namespace {

using namespace ssl::test;
namespace cpu = ssl::kernels::cpu;

// [outer, size, inner] views and k indices, drawn at random: where k > size some must repeat.
struct SelectCase {
  int64_t outer, size, inner, k;
};
// Small, and one past the threshold for threads (32,768 outputs).
const std::vector<SelectCase> kSelectCases = {{1, 5, 1, 9}, {3, 4, 5, 7}, {2, 6, 1, 3}, {8, 40, 96, 48}};

template <class T>
void check_select(const SelectCase& c, std::mt19937_64& rng) {
  CAPTURE(c.outer);
  CAPTURE(c.size);
  CAPTURE(c.inner);
  const std::vector<double> x = random_vector(c.outer * c.size * c.inner, rng);
  const std::vector<int64_t> index = random_indices(c.k, c.size, rng);
  const std::vector<T> xt = cast<T>(x);
  std::vector<T> y = poisoned<T>(c.outer * c.k * c.inner);
  cpu::index_select<T>(c.outer, c.size, c.inner, xt.data(), c.k, index.data(), y.data());

  // y[o, j, i] = x[o, index[j], i], and the adjoint gx[o, index[j], i] += gy[o, j, i].
  const std::vector<double> gy = random_vector(c.outer * c.k * c.inner, rng);
  std::vector<double> y_ref(y.size()), gx_ref(x.size(), 0.0);
  for (int64_t o = 0; o < c.outer; ++o)
    for (int64_t j = 0; j < c.k; ++j)
      for (int64_t i = 0; i < c.inner; ++i) {
        const size_t at = size_t((o * c.k + j) * c.inner + i),
                     from = size_t((o * c.size + index[j]) * c.inner + i);
        y_ref[at] = double(xt[from]);
        gx_ref[from] += double(T(gy[at]));
      }
  check_close(y, y_ref, 0, 0, "index_select");

  const std::vector<T> gyt = cast<T>(gy);
  std::vector<T> gx(x.size(), T(0));
  cpu::index_add<T>(c.outer, c.size, c.inner, gx.data(), c.k, index.data(), gyt.data());
  check_close(gx, gx_ref, sizeof(T) == 4 ? 1e-6 : 1e-15, 0, "index_add");
}

TEST_CASE("index_select and index_add against their definitions, repeated indices included") {
  std::mt19937_64 rng(31);
  const ssl::kernels::ComputeThreads two(2);
  for (const auto& c : kSelectCases) {
    check_select<float>(c, rng);
    check_select<double>(c, rng);
  }
}

// gather along `dim` of an index of shape `shape` from an x whose size along dim is x_dim_size.
struct GatherCase {
  std::vector<int64_t> shape;
  int64_t dim, x_dim_size;
};
const std::vector<GatherCase> kGatherCases = {{{7}, 0, 4},       {{3, 5}, 0, 2},    {{3, 5}, 1, 9},
                                              {{2, 3, 4}, 1, 5}, {{2, 3, 4}, 2, 3}, {{4, 1, 3}, 0, 6}};

template <class T>
void check_gather(const GatherCase& c, std::mt19937_64& rng) {
  CAPTURE(c.dim);
  CAPTURE(c.shape.size());
  const int64_t nd = int64_t(c.shape.size());
  std::vector<int64_t> x_shape = c.shape;
  x_shape[size_t(c.dim)] = c.x_dim_size;
  int64_t n = 1, x_n = 1;
  for (int64_t d = 0; d < nd; ++d) n *= c.shape[size_t(d)], x_n *= x_shape[size_t(d)];
  const std::vector<double> x = random_vector(x_n, rng), gy = random_vector(n, rng);
  const std::vector<int64_t> index = random_indices(n, c.x_dim_size, rng);

  // Walk every position of the index's shape; x's position is the same with dim's coordinate replaced.
  std::vector<double> y_ref(static_cast<size_t>(n)), gx_ref(static_cast<size_t>(x_n), 0.0);
  std::vector<int64_t> pos(size_t(nd), 0);
  for (int64_t e = 0; e < n; ++e) {
    int64_t from = 0;
    for (int64_t d = 0; d < nd; ++d)
      from = from * x_shape[size_t(d)] + (d == c.dim ? index[size_t(e)] : pos[size_t(d)]);
    y_ref[size_t(e)] = double(T(x[size_t(from)]));
    gx_ref[size_t(from)] += double(T(gy[size_t(e)]));
    for (int64_t d = nd - 1; d >= 0 && ++pos[size_t(d)] == c.shape[size_t(d)]; --d) pos[size_t(d)] = 0;
  }

  const std::vector<T> xt = cast<T>(x), gyt = cast<T>(gy);
  std::vector<T> y = poisoned<T>(n), gx(size_t(x_n), T(0));
  cpu::gather<T>(nd, c.shape.data(), c.dim, c.x_dim_size, xt.data(), index.data(), y.data());
  check_close(y, y_ref, 0, 0, "gather");
  cpu::scatter_add<T>(nd, c.shape.data(), c.dim, c.x_dim_size, gx.data(), index.data(), gyt.data());
  check_close(gx, gx_ref, sizeof(T) == 4 ? 1e-6 : 1e-15, 0, "scatter_add");
}

TEST_CASE("gather and scatter_add against their definitions along every dim, repeated indices included") {
  std::mt19937_64 rng(32);
  for (const auto& c : kGatherCases) {
    check_gather<float>(c, rng);
    check_gather<double>(c, rng);
  }
}

TEST_CASE("an index out of range is an error naming the op, the index and the range") {
  const std::vector<double> x(6, 1.0);
  std::vector<double> y(6);
  const std::vector<int64_t> bad{0, 3}, negative{-1, 0};
  CHECK_THROWS_WITH_AS(cpu::index_select<double>(2, 3, 1, x.data(), 2, bad.data(), y.data()),
                       doctest::Contains("index_select: index 3 is outside [0, 3)"), ssl::Error);
  CHECK_THROWS_WITH_AS(cpu::index_add<double>(2, 3, 1, y.data(), 2, negative.data(), x.data()),
                       doctest::Contains("index_add: index -1 is outside [0, 3)"), ssl::Error);
  const int64_t shape[] = {2};
  CHECK_THROWS_WITH_AS(cpu::gather<double>(1, shape, 0, 3, x.data(), bad.data(), y.data()),
                       doctest::Contains("gather: index 3 is outside [0, 3)"), ssl::Error);
  CHECK_THROWS_WITH_AS(cpu::scatter_add<double>(1, shape, 0, 3, y.data(), negative.data(), x.data()),
                       doctest::Contains("scatter_add: index -1 is outside [0, 3)"), ssl::Error);
}

}  // namespace
