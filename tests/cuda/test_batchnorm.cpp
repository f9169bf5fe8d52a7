// The CUDA batch norm kernels against the CPU twin (on the same data, in the same type), training and
// evaluation mode, with and without gamma/beta, the fused ReLU, each gradient alone, and shapes large enough
// to split one channel, or several, into several chunks of partial sums.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/batchnorm.h"
#include "kernels/cuda/batchnorm.h"
#include "support/device_buffer.h"
#include "support/kernel_check.h"

using namespace ssl;
namespace cpu = ssl::kernels::cpu;
namespace dev = ssl::kernels::SSL_CUDA_NS;

namespace {

struct Shape {
  int64_t n, c, hw;
  double offset;  // added to x: a mean far from 0 tests the shifted one-pass variance
};

// The fourth and fifth split each channel into chunks (kernels/cuda/batchnorm.cu: n*hw / 4096 of them):
// 4x1x2500 into 2 with one channel; 3x3x2750 into 2 with 3 channels (chunks != c, so the partial sums'
// [channel][chunk] layout is exercised), the chunk boundary (4125) inside the second image, hw not a multiple
// of the block. Then 300 channels: the per-channel kernels need two blocks.
std::vector<Shape> shapes() {
  return {{3, 5, 7, 0.0},    {2, 3, 1, 0.5},     {5, 4, 9, 50.0},
          {4, 1, 2500, 3.0}, {3, 3, 2750, -2.0}, {2, 300, 3, 1.0}};
}

std::string label(const char* mode, const Shape& sh, bool affine) {
  std::ostringstream o;
  o << mode << "n" << sh.n << " c" << sh.c << " hw" << sh.hw << (affine ? " affine" : " no affine");
  return o.str();
}

template <class T>
void check_train(const Shape& sh, bool affine, double atol, double rtol, bool optional_arguments = false) {
  const int64_t n = sh.n, c = sh.c, hw = sh.hw, total = n * c * hw;
  const std::string what = label("", sh, affine);
  std::mt19937_64 rng(total);
  std::vector<T> x = test::cast<T>(test::random_vector(total, rng, sh.offset - 1, sh.offset + 1));
  const std::vector<T> gamma = test::cast<T>(test::random_vector(c, rng, 0.5, 1.5)),
                       beta = test::cast<T>(test::random_vector(c, rng)),
                       gy = test::cast<T>(test::random_vector(total, rng));
  const T eps = T(1e-5);
  const T* g = affine ? gamma.data() : nullptr;
  const T* b = affine ? beta.data() : nullptr;
  const test::DeviceBuffer<T> dx(x), dgamma(gamma), dbeta(beta), dgy(gy);
  const T* dg = affine ? dgamma.get() : nullptr;
  const T* db = affine ? dbeta.get() : nullptr;

  for (bool relu : {false, true}) {
    const std::string w = what + (relu ? " relu" : "");
    // Forward.
    std::vector<T> y(total), mean(c), invstd(c), var(c), scale(c), shift(c);
    if (relu)
      cpu::batch_norm_relu_forward_train<T>(n, c, hw, x.data(), g, b, eps, y.data(), mean.data(),
                                            invstd.data(), var.data(), scale.data(), shift.data());
    else
      cpu::batch_norm_forward_train<T>(n, c, hw, x.data(), g, b, eps, y.data(), mean.data(), invstd.data(),
                                       var.data());
    auto dy = test::DeviceBuffer<T>::poisoned(total);
    auto dmean = test::DeviceBuffer<T>::poisoned(c), dinvstd = test::DeviceBuffer<T>::poisoned(c),
         dvar = test::DeviceBuffer<T>::poisoned(c), dscale = test::DeviceBuffer<T>::poisoned(c),
         dshift = test::DeviceBuffer<T>::poisoned(c);
    if (relu)
      dev::batch_norm_relu_forward_train<T>(n, c, hw, dx.get(), dg, db, eps, dy.get(), dmean.get(),
                                            dinvstd.get(), dvar.get(), dscale.get(), dshift.get());
    else
      dev::batch_norm_forward_train<T>(n, c, hw, dx.get(), dg, db, eps, dy.get(), dmean.get(), dinvstd.get(),
                                       dvar.get());
    test::check_close(dy.download(), test::cast<double>(y), atol, rtol, w + " y");
    test::check_close(dmean.download(), test::cast<double>(mean), atol, rtol, w + " save_mean");
    test::check_close(dinvstd.download(), test::cast<double>(invstd), atol, rtol, w + " save_invstd");
    test::check_close(dvar.download(), test::cast<double>(var), atol, rtol, w + " batch_var");
    if (relu) {
      test::check_close(dscale.download(), test::cast<double>(scale), atol, rtol, w + " save_scale");
      test::check_close(dshift.download(), test::cast<double>(shift), atol, rtol, w + " save_shift");
    }
    if (optional_arguments) {  // batch_var may be nullptr
      auto dy2 = test::DeviceBuffer<T>::poisoned(total);
      if (relu)
        dev::batch_norm_relu_forward_train<T>(n, c, hw, dx.get(), dg, db, eps, dy2.get(), dmean.get(),
                                              dinvstd.get(), nullptr, dscale.get(), dshift.get());
      else
        dev::batch_norm_forward_train<T>(n, c, hw, dx.get(), dg, db, eps, dy2.get(), dmean.get(),
                                         dinvstd.get(), nullptr);
      CHECK_MESSAGE(dy2.download() == dy.download(), w << ": y differs without batch_var");
    }

    // Backward, from the CPU's saved statistics on both sides (so the ReLU masks are the same).
    std::vector<T> gx(total), ggamma(c), gbeta(c);
    if (relu)
      cpu::batch_norm_relu_backward_train<T>(n, c, hw, x.data(), g, mean.data(), invstd.data(), scale.data(),
                                             shift.data(), gy.data(), gx.data(), ggamma.data(), gbeta.data());
    else
      cpu::batch_norm_backward_train<T>(n, c, hw, x.data(), g, mean.data(), invstd.data(), gy.data(),
                                        gx.data(), ggamma.data(), gbeta.data());
    const test::DeviceBuffer<T> smean(mean), sinvstd(invstd), sscale(scale), sshift(shift);
    auto backward = [&](T* dgx, T* dgg, T* dgb) {
      if (relu)
        dev::batch_norm_relu_backward_train<T>(n, c, hw, dx.get(), dg, smean.get(), sinvstd.get(),
                                               sscale.get(), sshift.get(), dgy.get(), dgx, dgg, dgb);
      else
        dev::batch_norm_backward_train<T>(n, c, hw, dx.get(), dg, smean.get(), sinvstd.get(), dgy.get(), dgx,
                                          dgg, dgb);
    };
    auto dgx = test::DeviceBuffer<T>::poisoned(total);
    auto dgg = test::DeviceBuffer<T>::poisoned(c), dgb = test::DeviceBuffer<T>::poisoned(c);
    backward(dgx.get(), dgg.get(), dgb.get());
    test::check_close(dgx.download(), test::cast<double>(gx), atol, rtol, w + " gx");
    test::check_close(dgg.download(), test::cast<double>(ggamma), atol, rtol, w + " ggamma");
    test::check_close(dgb.download(), test::cast<double>(gbeta), atol, rtol, w + " gbeta");
    if (!optional_arguments) continue;
    auto dgx1 = test::DeviceBuffer<T>::poisoned(total);
    backward(dgx1.get(), nullptr, nullptr);
    CHECK_MESSAGE(dgx1.download() == dgx.download(), w << ": gx alone differs");
    auto dgg1 = test::DeviceBuffer<T>::poisoned(c);
    backward(nullptr, dgg1.get(), nullptr);
    CHECK_MESSAGE(dgg1.download() == dgg.download(), w << ": ggamma alone differs (not deterministic?)");
  }
}

template <class T>
void check_eval(const Shape& sh, bool affine, double atol, double rtol, bool optional_arguments = false) {
  const int64_t n = sh.n, c = sh.c, hw = sh.hw, total = n * c * hw;
  const std::string what = label("eval ", sh, affine);
  std::mt19937_64 rng(total + 1);
  const std::vector<T> x = test::cast<T>(test::random_vector(total, rng, sh.offset - 1, sh.offset + 1)),
                       gamma = test::cast<T>(test::random_vector(c, rng, 0.5, 1.5)),
                       beta = test::cast<T>(test::random_vector(c, rng)),
                       rmean = test::cast<T>(test::random_vector(c, rng, sh.offset - 0.5, sh.offset + 0.5)),
                       rvar = test::cast<T>(test::random_vector(c, rng, 0.2, 2.0)),
                       gy = test::cast<T>(test::random_vector(total, rng));
  const T eps = T(1e-5);
  const T* g = affine ? gamma.data() : nullptr;
  const T* b = affine ? beta.data() : nullptr;
  const test::DeviceBuffer<T> dx(x), dgamma(gamma), dbeta(beta), drm(rmean), drv(rvar), dgy(gy);
  const T* dg = affine ? dgamma.get() : nullptr;
  const T* db = affine ? dbeta.get() : nullptr;

  std::vector<T> y(total);
  cpu::batch_norm_forward_eval<T>(n, c, hw, x.data(), g, b, rmean.data(), rvar.data(), eps, y.data());
  auto dy = test::DeviceBuffer<T>::poisoned(total);
  dev::batch_norm_forward_eval<T>(n, c, hw, dx.get(), dg, db, drm.get(), drv.get(), eps, dy.get());
  test::check_close(dy.download(), test::cast<double>(y), atol, rtol, what + " y");

  std::vector<T> gx(total), ggamma(c), gbeta(c);
  cpu::batch_norm_backward_eval<T>(n, c, hw, x.data(), g, rmean.data(), rvar.data(), eps, gy.data(),
                                   gx.data(), ggamma.data(), gbeta.data());
  auto dgx = test::DeviceBuffer<T>::poisoned(total);
  auto dgg = test::DeviceBuffer<T>::poisoned(c), dgb = test::DeviceBuffer<T>::poisoned(c);
  dev::batch_norm_backward_eval<T>(n, c, hw, dx.get(), dg, drm.get(), drv.get(), eps, dgy.get(), dgx.get(),
                                   dgg.get(), dgb.get());
  test::check_close(dgx.download(), test::cast<double>(gx), atol, rtol, what + " gx");
  test::check_close(dgg.download(), test::cast<double>(ggamma), atol, rtol, what + " ggamma");
  test::check_close(dgb.download(), test::cast<double>(gbeta), atol, rtol, what + " gbeta");
  if (!optional_arguments) return;
  // gbeta alone (x and running_mean unread), and the gx-only overload.
  auto dgb1 = test::DeviceBuffer<T>::poisoned(c);
  dev::batch_norm_backward_eval<T>(n, c, hw, nullptr, dg, nullptr, drv.get(), eps, dgy.get(), nullptr,
                                   nullptr, dgb1.get());
  CHECK_MESSAGE(dgb1.download() == dgb.download(), what << ": gbeta alone differs");
  auto dgx1 = test::DeviceBuffer<T>::poisoned(total);
  dev::batch_norm_backward_eval<T>(n, c, hw, dg, drv.get(), eps, dgy.get(), dgx1.get());
  CHECK_MESSAGE(dgx1.download() == dgx.download(), what << ": the gx-only overload differs");
}

}  // namespace

TEST_CASE("batchnorm CUDA: training mode (plain and fused ReLU) matches the CPU twin") {
  const std::vector<Shape> all = shapes();
  for (size_t i = 0; i < all.size(); ++i) check_train<float>(all[i], true, 2e-5, 2e-4, i == 0);
  check_train<float>(all[0], false, 2e-5, 2e-4);
  check_train<double>(all[2], true, 1e-12, 1e-10);
  check_train<double>(all[4], true, 1e-12, 1e-10);
}

TEST_CASE("batchnorm CUDA: evaluation mode matches the CPU twin") {
  const std::vector<Shape> all = shapes();
  for (size_t i = 0; i < all.size(); ++i) check_eval<float>(all[i], i != 1, 1e-6, 1e-6, i == 0);
  check_eval<double>(all[2], true, 1e-14, 1e-12);
  check_eval<double>(all[4], true, 1e-14, 1e-12);
}

TEST_CASE("batchnorm CUDA: the fused ReLU keeps a NaN, as the CPU twin does") {
  // One NaN in channel 1 makes that channel's statistics NaN; a ReLU that turned NaN into 0 would hide a
  // diverging run behind a finite loss. The output starts finite here, as the expected values are NaN.
  const int64_t n = 2, c = 3, hw = 4, total = n * c * hw;
  std::mt19937_64 rng(7);
  std::vector<float> x = test::cast<float>(test::random_vector(total, rng));
  x[1 * hw + 2] = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> y(total), mean(c), invstd(c), var(c), scale(c), shift(c);
  cpu::batch_norm_relu_forward_train<float>(n, c, hw, x.data(), nullptr, nullptr, 1e-5f, y.data(),
                                            mean.data(), invstd.data(), var.data(), scale.data(),
                                            shift.data());
  const test::DeviceBuffer<float> dx(x);
  test::DeviceBuffer<float> dy(std::vector<float>(total, 12345.f)), dmean(c), dinvstd(c), dvar(c), dscale(c),
      dshift(c);
  dev::batch_norm_relu_forward_train<float>(n, c, hw, dx.get(), nullptr, nullptr, 1e-5f, dy.get(),
                                            dmean.get(), dinvstd.get(), dvar.get(), dscale.get(),
                                            dshift.get());
  const std::vector<float> got = dy.download();
  int64_t nan_channel = 0;
  for (int64_t k = 0; k < total; ++k) {
    const bool in_nan_channel = k / hw % c == 1;
    REQUIRE(std::isnan(y[k]) == in_nan_channel);  // the CPU twin, as the reference
    CHECK_MESSAGE(std::isnan(got[k]) == in_nan_channel, "element ", k, ": ", got[k], " against ", y[k]);
    if (!in_nan_channel) CHECK(std::fabs(got[k] - y[k]) <= 2e-5f + 2e-4f * std::fabs(y[k]));
    nan_channel += std::isnan(got[k]);
  }
  CHECK(nan_channel == n * hw);  // the NaN channel's every element, and nothing else
}

TEST_CASE("batchnorm CUDA: bad sizes are refused before launching") {
  float v = 0;
  CHECK_THROWS_AS(dev::batch_norm_forward_train<float>(1, 2, 1, &v, nullptr, nullptr, 1e-5f, &v, &v, &v, &v),
                  Error);
  CHECK_THROWS_AS(dev::batch_norm_forward_eval<float>(0, 2, 1, &v, nullptr, nullptr, &v, &v, 1e-5f, &v),
                  Error);
  // One channel too many: the coefficients' last index, 3c - 1, would not fit an int (refused before any
  // read).
  CHECK_THROWS_WITH_AS(
      dev::batch_norm_forward_train<float>(1, 715827883, 1, &v, nullptr, nullptr, 1e-5f, &v, &v, &v, &v),
      doctest::Contains("(715827883, at most 715827882)"), Error);
}
