// The indexing kernels (and both versions of the *_add ops) against the CPU kernels, with repeated indices,
// odd sizes and a gather/scatter along the first, a middle and the last dim.
#include <doctest/doctest.h>

#include <numeric>
#include <random>
#include <vector>

#include "kernels/cuda/index.h"
#include "kernels/index.h"
#include "support/device_buffer.h"
#include "support/kernel_check.h"

using namespace ssl;
namespace dev = ssl::kernels::SSL_CUDA_NS;

namespace {

template <class T>
std::vector<T> random_of(int64_t n, std::mt19937_64& rng) {
  std::vector<T> v = test::cast<T>(test::random_vector(n, rng, -50.0, 50.0));
  for (T& e : v)
    if (e == T(0)) e = T(1);  // never zero, also after rounding to an integer
  return v;
}

template <class T>
double tol() {
  return sizeof(T) == 4 ? 1e-5 : 1e-12;
}

struct RowCase {
  int64_t outer, size, inner, k;
};

template <class T>
void check_rows(const RowCase& c, std::mt19937_64& rng) {
  CAPTURE(c.outer);
  CAPTURE(c.size);
  CAPTURE(c.inner);
  CAPTURE(c.k);
  const std::vector<T> x = random_of<T>(c.outer * c.size * c.inner, rng);
  const std::vector<T> gy = random_of<T>(c.outer * c.k * c.inner, rng);
  const std::vector<int64_t> index = test::random_indices(c.k, c.size, rng);  // k > size repeats indices
  test::DeviceBuffer<T> dx(x), dgy(gy);
  test::DeviceBuffer<int64_t> didx(index);

  std::vector<T> y(c.outer * c.k * c.inner);
  kernels::cpu::index_select<T>(c.outer, c.size, c.inner, x.data(), c.k, index.data(), y.data());
  test::DeviceBuffer<T> dy = test::DeviceBuffer<T>::poisoned(int64_t(y.size()));
  dev::index_select<T>(c.outer, c.size, c.inner, dx.get(), c.k, didx.get(), dy.get());
  test::check_close(dy.download(), test::cast<double>(y), 0, 0, "index_select");

  // The adds accumulate into what gx holds: start from random values, so a kernel that overwrote or cleared
  // gx would fail.
  const std::vector<T> gx_start = random_of<T>(x.size(), rng);
  std::vector<T> gx = gx_start;
  kernels::cpu::index_add<T>(c.outer, c.size, c.inner, gx.data(), c.k, index.data(), gy.data());
  for (int v = 0; v < 3; ++v) {
    CAPTURE(v);
    test::DeviceBuffer<T> dgx(gx_start);
    if (v == 0) dev::index_add<T>(c.outer, c.size, c.inner, dgx.get(), c.k, didx.get(), dgy.get());
    if (v == 1) dev::index_add_v1<T>(c.outer, c.size, c.inner, dgx.get(), c.k, didx.get(), dgy.get());
    if (v == 2) dev::index_add_v2<T>(c.outer, c.size, c.inner, dgx.get(), c.k, didx.get(), dgy.get());
    // _v1 adds in the CPU's order (exact); the atomics of _v2 may round differently.
    const double t = v == 2 ? tol<T>() : 0;
    test::check_close(dgx.download(), test::cast<double>(gx), t, t, "index_add");
  }
}

template <class T>
void check_dims(const std::vector<int64_t>& shape, int64_t dim, int64_t x_dim_size, std::mt19937_64& rng) {
  CAPTURE(dim);
  CAPTURE(x_dim_size);
  const int64_t ndim = int64_t(shape.size());
  const int64_t n = std::accumulate(shape.begin(), shape.end(), int64_t(1), std::multiplies<>());
  const int64_t nx = n / shape[dim] * x_dim_size;
  const std::vector<T> x = random_of<T>(nx, rng), gy = random_of<T>(n, rng);
  const std::vector<int64_t> index = test::random_indices(n, x_dim_size, rng);
  test::DeviceBuffer<T> dx(x), dgy(gy);
  test::DeviceBuffer<int64_t> didx(index);

  std::vector<T> y(n);
  kernels::cpu::gather<T>(ndim, shape.data(), dim, x_dim_size, x.data(), index.data(), y.data());
  test::DeviceBuffer<T> dy = test::DeviceBuffer<T>::poisoned(n);
  dev::gather<T>(ndim, shape.data(), dim, x_dim_size, dx.get(), didx.get(), dy.get());
  test::check_close(dy.download(), test::cast<double>(y), 0, 0, "gather");

  const std::vector<T> gx_start = random_of<T>(nx, rng);  // accumulated into, as index_add's above
  std::vector<T> gx = gx_start;
  kernels::cpu::scatter_add<T>(ndim, shape.data(), dim, x_dim_size, gx.data(), index.data(), gy.data());
  for (int v = 0; v < 3; ++v) {
    CAPTURE(v);
    test::DeviceBuffer<T> dgx(gx_start);
    if (v == 0) dev::scatter_add<T>(ndim, shape.data(), dim, x_dim_size, dgx.get(), didx.get(), dgy.get());
    if (v == 1) dev::scatter_add_v1<T>(ndim, shape.data(), dim, x_dim_size, dgx.get(), didx.get(), dgy.get());
    if (v == 2) dev::scatter_add_v2<T>(ndim, shape.data(), dim, x_dim_size, dgx.get(), didx.get(), dgy.get());
    const double t = v == 2 ? tol<T>() : 0;
    test::check_close(dgx.download(), test::cast<double>(gx), t, t, "scatter_add");
  }
}

template <class T>
void index_suite() {
  std::mt19937_64 rng(31);
  for (const RowCase& c : {RowCase{1, 7, 1, 20}, RowCase{3, 10, 37, 6}, RowCase{2, 5, 129, 9}})
    check_rows<T>(c, rng);
  const std::vector<int64_t> shape{3, 5, 7};
  check_dims<T>(shape, 0, 4, rng);
  check_dims<T>(shape, 1, 9, rng);
  check_dims<T>(shape, 2, 2, rng);
  check_dims<T>({300}, 0, 17, rng);
}

}  // namespace

TEST_CASE("index: index_select, index_add, gather, scatter_add as the CPU, float, double and int64") {
  index_suite<float>();
  index_suite<double>();
  index_suite<int64_t>();
}

TEST_CASE("index: an index outside the range is skipped, never followed") {
  const std::vector<float> x{1, 2, 3, 4};
  const std::vector<int64_t> index{1, -1, 4, 0};
  test::DeviceBuffer<float> dx(x), dy = test::DeviceBuffer<float>::poisoned(4), dgx(std::vector<float>(4, 0));
  test::DeviceBuffer<int64_t> didx(index);
  dev::index_select<float>(1, 4, 1, dx.get(), 4, didx.get(), dy.get());
  CHECK(dy.download() == std::vector<float>{2, 0, 0, 1});
  dev::index_add<float>(1, 4, 1, dgx.get(), 4, didx.get(), dx.get());
  CHECK(dgx.download() == std::vector<float>{4, 1, 0, 0});
}
