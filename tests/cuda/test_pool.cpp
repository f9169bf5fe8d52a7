// The CUDA pooling kernels against the CPU twin: max (ties, a NaN, argmax), average and adaptive average,
// forward and backward, on small odd shapes with overlapping windows and padding, and one with outputs over
// several thread blocks.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cuda/pool.h"
#include "kernels/pool.h"
#include "support/device_buffer.h"
#include "support/kernel_check.h"

using namespace ssl;
using kernels::Pool2dShape;
namespace cpu = ssl::kernels::cpu;
namespace dev = ssl::kernels::SSL_CUDA_NS;

namespace {

std::vector<Pool2dShape> shapes() {
  return {
      Pool2dShape{2, 3, 7, 9, 3, 3, 2, 2, 1, 1},  // overlapping windows, padding
      Pool2dShape{1, 2, 8, 6, 2, 2, 2, 2, 0, 0},  // MobileNet/ResNet-style 2x2 stride 2
      Pool2dShape{2, 2, 5, 6, 3, 2, 1, 2, 1, 1},  // stride 1 rows, rectangular kernel
      // 900 outputs and 3230 inputs: several 256-thread blocks, the last one partial
      Pool2dShape{2, 5, 17, 19, 3, 3, 2, 2, 1, 1},
  };
}

// Few distinct values, so that windows have ties; one NaN in the first plane.
template <class T>
std::vector<T> input(int64_t n, std::mt19937_64& rng, bool with_nan) {
  std::uniform_int_distribution<int> u(-3, 3);
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& e : v) e = T(u(rng)) * T(0.5);
  if (with_nan) v[5] = std::numeric_limits<T>::quiet_NaN();
  return v;
}

// Random values in ±[0.1, 1] for the averages, where a 0 would hide an input left out of a window.
template <class T>
std::vector<T> nonzero_input(int64_t n, std::mt19937_64& rng) {
  std::vector<T> v = test::cast<T>(test::random_vector(n, rng, 0.1, 1.0));
  for (auto& e : v)
    if (rng() & 1) e = -e;
  return v;
}

template <class T>
bool same_with_nan(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i])))) return false;
  return true;
}

template <class T>
void check_pool(const Pool2dShape& s, bool with_nan) {
  std::mt19937_64 rng(s.h * 31 + s.w);
  const int64_t nx = s.n * s.c * s.h * s.w, ny = s.n * s.c * s.out_h() * s.out_w();
  const std::vector<T> x = input<T>(nx, rng, with_nan);
  const std::vector<T> gy = test::cast<T>(test::random_vector(ny, rng));
  const test::DeviceBuffer<T> dx(x), dgy(gy);

  // Max: the same values and the same argmax (ties and NaN included), then the same gx.
  std::vector<T> y(ny), gx(nx);
  std::vector<int64_t> argmax(ny);
  cpu::max_pool2d_forward<T>(s, x.data(), y.data(), argmax.data());
  auto dy = test::DeviceBuffer<T>::poisoned(ny);
  auto darg = test::DeviceBuffer<int64_t>::poisoned(ny);
  dev::max_pool2d_forward<T>(s, dx.get(), dy.get(), darg.get());
  CHECK(same_with_nan(dy.download(), y));
  CHECK(darg.download() == argmax);
  cpu::max_pool2d_backward<T>(s, gy.data(), argmax.data(), gx.data());
  auto dgx = test::DeviceBuffer<T>::poisoned(nx);
  dev::max_pool2d_backward<T>(s, dgy.get(), darg.get(), dgx.get());
  CHECK(dgx.download() == gx);  // the same additions in the same order

  if (with_nan) return;
  // Average, on its own inputs.
  const std::vector<T> xa = nonzero_input<T>(nx, rng);
  const test::DeviceBuffer<T> dxa(xa);
  cpu::avg_pool2d_forward<T>(s, xa.data(), y.data());
  auto day = test::DeviceBuffer<T>::poisoned(ny);
  dev::avg_pool2d_forward<T>(s, dxa.get(), day.get());
  test::check_close(day.download(), test::cast<double>(y), 1e-6, 1e-6, "avg forward");
  cpu::avg_pool2d_backward<T>(s, gy.data(), gx.data());
  auto dagx = test::DeviceBuffer<T>::poisoned(nx);
  dev::avg_pool2d_backward<T>(s, dgy.get(), dagx.get());
  test::check_close(dagx.download(), test::cast<double>(gx), 1e-6, 1e-6, "avg backward");
}

template <class T>
void check_adaptive(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oh, int64_t ow) {
  CAPTURE(h);
  CAPTURE(oh);
  std::mt19937_64 rng(h * 7 + oh);
  const int64_t nx = n * c * h * w, ny = n * c * oh * ow;
  const std::vector<double> x = test::random_vector(nx, rng), gy = test::random_vector(ny, rng);
  std::vector<double> y(ny), gx(nx);
  cpu::adaptive_avg_pool2d_forward<double>(n, c, h, w, oh, ow, test::cast<double>(test::cast<T>(x)).data(),
                                           y.data());
  cpu::adaptive_avg_pool2d_backward<double>(n, c, h, w, oh, ow, test::cast<double>(test::cast<T>(gy)).data(),
                                            gx.data());
  const test::DeviceBuffer<T> dx(test::cast<T>(x)), dgy(test::cast<T>(gy));
  auto dy = test::DeviceBuffer<T>::poisoned(ny);
  auto dgx = test::DeviceBuffer<T>::poisoned(nx);
  dev::adaptive_avg_pool2d_forward<T>(n, c, h, w, oh, ow, dx.get(), dy.get());
  dev::adaptive_avg_pool2d_backward<T>(n, c, h, w, oh, ow, dgy.get(), dgx.get());
  test::check_close(dy.download(), y, 1e-6, 1e-5, "adaptive forward");
  test::check_close(dgx.download(), gx, 1e-6, 1e-5, "adaptive backward");
}

}  // namespace

TEST_CASE("pool CUDA: max and average pooling match the CPU twin") {
  const std::vector<Pool2dShape> all = shapes();
  for (size_t i = 0; i < all.size(); ++i) check_pool<float>(all[i], false);
  check_pool<float>(all[0], true);
  check_pool<double>(all[2], false);
}

TEST_CASE("pool CUDA: adaptive average pooling matches the CPU twin (bins that overlap, 1x1, identity)") {
  check_adaptive<float>(2, 3, 7, 9, 3, 4);
  check_adaptive<float>(1, 2, 4, 6, 7, 3);  // more outputs than inputs along y
  check_adaptive<float>(2, 3, 5, 5, 1, 1);  // global average
  check_adaptive<double>(1, 2, 5, 5, 5, 5);
  check_adaptive<float>(2, 5, 17, 19, 9, 11);  // 990 outputs: several 256-thread blocks, the last partial
}

TEST_CASE("pool CUDA: bad shapes are refused before launching") {
  CHECK_THROWS_AS(
      dev::max_pool2d_forward<float>(Pool2dShape{1, 1, 4, 4, 3, 3, 1, 1, 2, 0}, nullptr, nullptr, nullptr),
      Error);
  CHECK_THROWS_AS(dev::adaptive_avg_pool2d_forward<float>(1, 1, 4, 4, 0, 1, nullptr, nullptr), Error);
  // A 1 x 2^30 plane padded by one: its 2 x (2^30 + 1) output would overflow the kernels' int index.
  CHECK_THROWS_WITH_AS(dev::avg_pool2d_backward<float>(
                           Pool2dShape{1, 1, 1, int64_t(1) << 30, 2, 2, 1, 1, 1, 1}, nullptr, nullptr),
                       doctest::Contains("2^30 elements in and out"), Error);
}
