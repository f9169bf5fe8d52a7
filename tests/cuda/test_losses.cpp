// Binary cross-entropy with logits against its CPU twin (kernels/cpu/losses.cpp), and the shared formulas
// of kernels/common/bce.h against the textbook ones.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/error.h"
#include "kernels/common/bce.h"
#include "kernels/cuda/losses.h"
#include "kernels/losses.h"
#include "support/device_buffer.h"
#include "support/kernel_check.h"

using namespace ssl;
namespace dev = ssl::kernels::SSL_CUDA_NS;

namespace {

template <class T>
void check_bce() {
  std::mt19937_64 rng(21);
  const double tol = sizeof(T) == 4 ? 1e-5 : 1e-13;
  for (int64_t n : {1, 5, 257, 4099}) {
    CAPTURE(n);
    const std::vector<T> x = test::cast<T>(test::random_vector(n, rng, -30, 30));
    const std::vector<T> t = test::cast<T>(test::random_vector(n, rng, 0, 1));
    const T grad_loss = T(-0.5);
    const T loss = kernels::cpu::bce_with_logits_forward<T>(n, x.data(), t.data());
    std::vector<T> gx(n), gt(n);
    kernels::cpu::bce_with_logits_backward<T>(n, x.data(), t.data(), grad_loss, gx.data(), gt.data());

    const test::DeviceBuffer<T> dx(x), dt(t), dgrad(std::vector<T>{grad_loss});
    auto dloss = test::DeviceBuffer<T>::poisoned(1);
    dev::bce_with_logits_forward<T>(n, dx.get(), dt.get(), dloss.get());
    test::check_close(dloss.download(), {double(loss)}, tol, tol, "loss");
    auto dgx = test::DeviceBuffer<T>::poisoned(n), dgt = test::DeviceBuffer<T>::poisoned(n);
    dev::bce_with_logits_backward<T>(n, dx.get(), dt.get(), dgrad.get(), dgx.get(), dgt.get());
    test::check_close(dgx.download(), test::cast<double>(gx), tol / double(n), tol, "gx");
    test::check_close(dgt.download(), test::cast<double>(gt), tol / double(n), tol, "gt");
    // Either gradient alone; the other buffer stays untouched.
    auto only_gt = test::DeviceBuffer<T>::poisoned(n);
    dev::bce_with_logits_backward<T>(n, dx.get(), dt.get(), dgrad.get(), nullptr, only_gt.get());
    test::check_close(only_gt.download(), test::cast<double>(gt), tol / double(n), tol, "gt alone");
    auto only_gx = test::DeviceBuffer<T>::poisoned(n);
    dev::bce_with_logits_backward<T>(n, dx.get(), dt.get(), dgrad.get(), only_gx.get(), nullptr);
    test::check_close(only_gx.download(), test::cast<double>(gx), tol / double(n), tol, "gx alone");
  }
}

}  // namespace

TEST_CASE("bce formulas agree with the textbook ones where those are safe, and stay finite where not") {
  for (double x : {-6.0, -3.0, -0.5, 0.0, 0.25, 4.0, 6.0}) {
    for (double t : {0.0, 0.3, 1.0}) {
      const double s = 1 / (1 + std::exp(-x));
      CHECK(bce::sigmoid(x) == doctest::Approx(s).epsilon(1e-14));
      CHECK(bce::with_logits(x, t) ==
            doctest::Approx(-(t * std::log(s) + (1 - t) * std::log(1 - s))).epsilon(1e-9));
    }
  }
  CHECK(std::isfinite(bce::with_logits(1000.0f, 0.0f)));
  CHECK(std::isfinite(bce::with_logits(-1000.0f, 1.0f)));
  CHECK(bce::sigmoid(-1000.0f) == 0.0f);
}

TEST_CASE("bce_with_logits forward and backward match the CPU") {
  check_bce<float>();
  check_bce<double>();
}

TEST_CASE("bce_with_logits: the loss has the same bits on every run; n = 0 throws") {
  std::mt19937_64 rng(22);
  const int64_t n = 5000;
  const test::DeviceBuffer<float> x(test::cast<float>(test::random_vector(n, rng, -5, 5)));
  const test::DeviceBuffer<float> t(test::cast<float>(test::random_vector(n, rng, 0, 1)));
  test::DeviceBuffer<float> a = test::DeviceBuffer<float>::poisoned(1),
                            b = test::DeviceBuffer<float>::poisoned(1);
  dev::bce_with_logits_forward<float>(n, x.get(), t.get(), a.get());
  dev::bce_with_logits_forward<float>(n, x.get(), t.get(), b.get());
  const float va = a.download()[0], vb = b.download()[0];
  CHECK(std::isfinite(va));  // written: the poison is NaN
  CHECK(std::memcmp(&va, &vb, sizeof(float)) == 0);
  CHECK_THROWS_AS(dev::bce_with_logits_forward<float>(0, x.get(), t.get(), a.get()), Error);
}
