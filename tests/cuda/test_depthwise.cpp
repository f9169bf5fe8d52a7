// Every version of the CUDA depthwise convolution against the CPU twin (computed in double), on random inputs
// and shapes that cover 3x3 stride 1 and 2, the generic instance, odd sizes, several tiles per plane and
// several planes per block.
#include <doctest/doctest.h>

#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/cuda/depthwise.h"
#include "kernels/depthwise.h"
#include "support/conv_reference.h"
#include "support/device_buffer.h"
#include "support/kernel_check.h"

using namespace ssl;
namespace dev = ssl::kernels::SSL_CUDA_NS;
using kernels::Conv2dShape;

namespace {

Conv2dShape depthwise(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k_h, int64_t k_w, int64_t s_h,
                      int64_t s_w, int64_t p_h, int64_t p_w) {
  return Conv2dShape{n, c, h, w, c, k_h, k_w, s_h, s_w, p_h, p_w, c};
}

// Few, small shapes: the emulation runs every thread of every block one after another.
std::vector<Conv2dShape> shapes() {
  return {
      depthwise(2, 2, 35, 9, 3, 3, 1, 1, 1, 1),   // 3x3 s1: odd sizes, several tiles per plane
      depthwise(1, 3, 37, 8, 3, 3, 2, 2, 1, 1),   // 3x3 s2, several tiles per plane
      depthwise(3, 9, 2, 2, 3, 3, 1, 1, 1, 1),    // 2x2 planes: many planes per block, the last group short
      depthwise(2, 2, 6, 7, 3, 3, 1, 1, 0, 0),    // no padding
      depthwise(2, 2, 9, 7, 5, 5, 1, 1, 2, 2),    // generic 5x5
      depthwise(1, 3, 10, 11, 4, 3, 3, 2, 2, 0),  // generic: rectangular kernel, stride 3 and 2, uneven pad
      // Generic, strides 4 and 16: v3's forward window, 37 x 389 values, exceeds shared memory and falls back
      depthwise(1, 2, 40, 400, 5, 5, 4, 16, 0, 0),
  };
}

std::string name_of(const Conv2dShape& s) {
  std::ostringstream o;
  o << "n" << s.n << " c" << s.c_in << " " << s.h << "x" << s.w << " k" << s.kh << "x" << s.kw << " s"
    << s.stride_h << "," << s.stride_w << " p" << s.pad_h << "," << s.pad_w;
  return o.str();
}

template <class T>
using Forward = void (*)(const Conv2dShape&, const T*, const T*, const T*, T*);
template <class T>
using Backward = void (*)(const Conv2dShape&, const T*, const T*, const T*, T*, T*, T*);

template <class T>
struct Versions {
  const char* name;
  Forward<T> forward;
  Backward<T> backward;
};

template <class T>
std::vector<Versions<T>> versions() {
  return {{"v1", dev::depthwise_conv2d_forward_v1<T>, dev::depthwise_conv2d_backward_v1<T>},
          {"v2", dev::depthwise_conv2d_forward_v2<T>, dev::depthwise_conv2d_backward_v2<T>},
          {"v3", dev::depthwise_conv2d_forward_v3<T>, dev::depthwise_conv2d_backward_v3<T>}};
}

template <class T>
void check_shape(const Conv2dShape& s, double atol, double rtol, bool optional_arguments = false) {
  std::mt19937_64 rng(s.h * 1000 + s.w * 10 + s.kh);
  const int64_t nx = test::x_count(s), ny = test::y_count(s), nw = test::w_count(s);
  const std::vector<double> x = test::random_vector(nx, rng), w = test::random_vector(nw, rng),
                            b = test::random_vector(s.c_in, rng), gy = test::random_vector(ny, rng);
  // The CPU references, in double from the data rounded to T.
  const auto xr = test::cast<double>(test::cast<T>(x)), wr = test::cast<double>(test::cast<T>(w)),
             br = test::cast<double>(test::cast<T>(b)), gyr = test::cast<double>(test::cast<T>(gy));
  std::vector<double> y_ref(ny), y_nobias(ny), gx_ref(nx), gw_ref(nw), gb_ref(s.c_in);
  kernels::cpu::depthwise_conv2d_forward_v1<double>(s, xr.data(), wr.data(), br.data(), y_ref.data());
  kernels::cpu::depthwise_conv2d_forward_v1<double>(s, xr.data(), wr.data(), nullptr, y_nobias.data());
  kernels::cpu::depthwise_conv2d_backward_v1<double>(s, xr.data(), wr.data(), gyr.data(), gx_ref.data(),
                                                     gw_ref.data(), gb_ref.data());

  const test::DeviceBuffer<T> dx(test::cast<T>(x)), dw(test::cast<T>(w)), db(test::cast<T>(b)),
      dgy(test::cast<T>(gy));
  for (const Versions<T>& v : versions<T>()) {
    const std::string what = std::string(v.name) + " " + name_of(s);
    auto y = test::DeviceBuffer<T>::poisoned(ny);
    v.forward(s, dx.get(), dw.get(), db.get(), y.get());
    test::check_close(y.download(), y_ref, atol, rtol, what + " forward");
    auto gx = test::DeviceBuffer<T>::poisoned(nx);
    auto gw = test::DeviceBuffer<T>::poisoned(nw);
    auto gb = test::DeviceBuffer<T>::poisoned(s.c_in);
    v.backward(s, dx.get(), dw.get(), dgy.get(), gx.get(), gw.get(), gb.get());
    test::check_close(gx.download(), gx_ref, atol, rtol, what + " gx");
    test::check_close(gw.download(), gw_ref, atol, rtol, what + " gw");
    test::check_close(gb.download(), gb_ref, atol, rtol, what + " gb");
  }
  if (!optional_arguments) return;
  // The unsuffixed functions: no bias, and each gradient alone (the others nullptr, x or w not given where
  // the contract says they are unread).
  const std::string what = "default " + name_of(s);
  auto y = test::DeviceBuffer<T>::poisoned(ny);
  dev::depthwise_conv2d_forward<T>(s, dx.get(), dw.get(), nullptr, y.get());
  test::check_close(y.download(), y_nobias, atol, rtol, what + " forward without bias");
  auto gx = test::DeviceBuffer<T>::poisoned(nx);
  dev::depthwise_conv2d_backward<T>(s, nullptr, dw.get(), dgy.get(), gx.get(), nullptr, nullptr);
  test::check_close(gx.download(), gx_ref, atol, rtol, what + " gx alone");
  auto gw = test::DeviceBuffer<T>::poisoned(nw);
  dev::depthwise_conv2d_backward<T>(s, dx.get(), nullptr, dgy.get(), nullptr, gw.get(), nullptr);
  test::check_close(gw.download(), gw_ref, atol, rtol, what + " gw alone");
  auto gb = test::DeviceBuffer<T>::poisoned(s.c_in);
  dev::depthwise_conv2d_backward<T>(s, nullptr, nullptr, dgy.get(), nullptr, nullptr, gb.get());
  test::check_close(gb.download(), gb_ref, atol, rtol, what + " gb alone");
}

}  // namespace

TEST_CASE("depthwise CUDA: every version matches the CPU twin (float)") {
  const std::vector<Conv2dShape> all = shapes();
  for (size_t i = 0; i < all.size(); ++i) check_shape<float>(all[i], 1e-5, 1e-4, i % 2 == 0);
}

TEST_CASE("depthwise CUDA: every version matches the CPU twin (double)") {
  check_shape<double>(depthwise(2, 3, 9, 8, 3, 3, 2, 2, 1, 1), 1e-12, 1e-10);
  check_shape<double>(depthwise(2, 2, 9, 7, 5, 5, 1, 1, 2, 2), 1e-12, 1e-10);
}

TEST_CASE("depthwise CUDA: gw and gb over several chunks of partials, deterministic") {
  // 16 x 24 x 24 outputs per channel: two chunks of partial sums per channel.
  const Conv2dShape s = depthwise(16, 2, 24, 24, 3, 3, 1, 1, 1, 1);
  std::mt19937_64 rng(5);
  const int64_t nx = test::x_count(s), nw = test::w_count(s);
  const std::vector<double> x = test::random_vector(nx, rng), gy = test::random_vector(test::y_count(s), rng);
  std::vector<double> gw_ref(nw), gb_ref(s.c_in);
  kernels::cpu::depthwise_conv2d_backward_v1<double>(s, x.data(), nullptr, gy.data(), nullptr, gw_ref.data(),
                                                     gb_ref.data());
  const test::DeviceBuffer<float> dx(test::cast<float>(x)), dgy(test::cast<float>(gy));
  auto gw = test::DeviceBuffer<float>::poisoned(nw), gb = test::DeviceBuffer<float>::poisoned(s.c_in);
  dev::depthwise_conv2d_backward<float>(s, dx.get(), nullptr, dgy.get(), nullptr, gw.get(), gb.get());
  test::check_close(gw.download(), gw_ref, 1e-3, 1e-4, "gw");
  test::check_close(gb.download(), gb_ref, 1e-3, 1e-4, "gb");
  auto gw2 = test::DeviceBuffer<float>::poisoned(nw);
  dev::depthwise_conv2d_backward<float>(s, dx.get(), nullptr, dgy.get(), nullptr, gw2.get(), nullptr);
  CHECK(gw2.download() == gw.download());
}

TEST_CASE("depthwise CUDA: shapes that are not depthwise are refused before launching") {
  Conv2dShape s = depthwise(1, 4, 5, 5, 3, 3, 1, 1, 1, 1);
  s.groups = 2;
  CHECK_THROWS_AS(dev::depthwise_conv2d_forward<float>(s, nullptr, nullptr, nullptr, nullptr), Error);
  CHECK_THROWS_AS(
      dev::depthwise_conv2d_backward<float>(s, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr), Error);
  // 2^28 channels of 3x3: their weights and bias partials, c (taps + 1), would overflow the kernels' int.
  const int64_t many = int64_t(1) << 28;
  CHECK_THROWS_WITH_AS(dev::depthwise_conv2d_forward<float>(depthwise(1, many, 1, 1, 3, 3, 1, 1, 1, 1),
                                                            nullptr, nullptr, nullptr, nullptr),
                       doctest::Contains("too many weights"), Error);
}
