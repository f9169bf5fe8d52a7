// The fused optimizer steps and sum_of_squares against the CPU kernels, on random parameters, gradients and
// state, for odd sizes and sizes beyond one reduction grid.
#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "kernels/cuda/optim.h"
#include "kernels/optim.h"
#include "support/device_buffer.h"
#include "support/kernel_check.h"

using namespace ssl;
namespace dev = ssl::kernels::SSL_CUDA_NS;

namespace {

// A single element, and 4 blocks of 256 threads with the last one partial.
const int64_t kSizes[] = {1, 1000};

template <class T>
double tol() {
  return sizeof(T) == 4 ? 2e-6 : 1e-13;
}

template <class T>
std::vector<T> random_of(int64_t n, std::mt19937_64& rng, double lo = -1.0, double hi = 1.0) {
  return test::cast<T>(test::random_vector(n, rng, lo, hi));
}

template <class T>
void check_sgd(int64_t n, T momentum, T wd, bool nesterov, bool first, std::mt19937_64& rng) {
  CAPTURE(n);
  CAPTURE(momentum);
  CAPTURE(nesterov);
  CAPTURE(first);
  std::vector<T> p = random_of<T>(n, rng), g = random_of<T>(n, rng), buf = random_of<T>(n, rng);
  test::DeviceBuffer<T> dp(p), dg(g), dbuf(buf);
  dev::sgd_step<T>(n, dp.get(), dg.get(), dbuf.get(), T(0.1), momentum, wd, nesterov, first);
  kernels::cpu::sgd_step<T>(n, p.data(), g.data(), buf.data(), T(0.1), momentum, wd, nesterov, first);
  test::check_close(dp.download(), test::cast<double>(p), tol<T>(), tol<T>(), "sgd p");
  test::check_close(dbuf.download(), test::cast<double>(buf), tol<T>(), tol<T>(), "sgd buf");
}

template <class T>
void check_adam(int64_t n, bool decoupled, int64_t t, std::mt19937_64& rng) {
  CAPTURE(n);
  CAPTURE(decoupled);
  CAPTURE(t);
  std::vector<T> p = random_of<T>(n, rng), g = random_of<T>(n, rng), m = random_of<T>(n, rng),
                 v = random_of<T>(n, rng, 0.01, 1.0);
  test::DeviceBuffer<T> dp(p), dg(g), dm(m), dv(v);
  const T lr = T(1e-2), b1 = T(0.9), b2 = T(0.999), eps = T(1e-8), wd = T(0.05);
  if (decoupled) {
    dev::adamw_step<T>(n, dp.get(), dg.get(), dm.get(), dv.get(), lr, b1, b2, eps, wd, t);
    kernels::cpu::adamw_step<T>(n, p.data(), g.data(), m.data(), v.data(), lr, b1, b2, eps, wd, t);
  } else {
    dev::adam_step<T>(n, dp.get(), dg.get(), dm.get(), dv.get(), lr, b1, b2, eps, wd, t);
    kernels::cpu::adam_step<T>(n, p.data(), g.data(), m.data(), v.data(), lr, b1, b2, eps, wd, t);
  }
  test::check_close(dp.download(), test::cast<double>(p), tol<T>(), tol<T>(), "adam p");
  test::check_close(dm.download(), test::cast<double>(m), tol<T>(), tol<T>(), "adam m");
  test::check_close(dv.download(), test::cast<double>(v), tol<T>(), tol<T>(), "adam v");
}

template <class T>
void check_lars(int64_t n, bool adapt, bool nesterov, std::mt19937_64& rng, double p_scale = 1.0) {
  CAPTURE(n);
  CAPTURE(adapt);
  CAPTURE(nesterov);
  std::vector<T> p = random_of<T>(n, rng, -p_scale, p_scale), g = random_of<T>(n, rng),
                 buf = random_of<T>(n, rng);
  test::DeviceBuffer<T> dp(p), dg(g), dbuf(buf);
  const T lr = T(0.3), momentum = T(0.9), wd = T(1e-4), eta = T(1e-3);
  dev::lars_step<T>(n, dp.get(), dg.get(), dbuf.get(), lr, momentum, wd, eta, adapt, nesterov);
  kernels::cpu::lars_step<T>(n, p.data(), g.data(), buf.data(), lr, momentum, wd, eta, adapt, nesterov);
  // The norms are summed in another order than on the CPU, so the trust ratio may differ in its last bit.
  test::check_close(dp.download(), test::cast<double>(p), tol<T>(), 4 * tol<T>(), "lars p");
  test::check_close(dbuf.download(), test::cast<double>(buf), tol<T>(), 4 * tol<T>(), "lars buf");
}

template <class T>
void optim_suite() {
  std::mt19937_64 rng(21);
  for (int64_t n : kSizes) {
    check_sgd<T>(n, T(0), T(0), false, false, rng);
    check_sgd<T>(n, T(0.9), T(5e-4), false, true, rng);
    check_sgd<T>(n, T(0.9), T(5e-4), false, false, rng);
    check_sgd<T>(n, T(0.9), T(5e-4), true, false, rng);
    check_adam<T>(n, false, 1, rng);
    check_adam<T>(n, true, 7, rng);
    check_lars<T>(n, true, false, rng);
    check_lars<T>(n, true, true, rng);
  }
  check_lars<T>(255, false, false, rng);
  check_lars<T>(300, true, true, rng, 0.0);  // ‖p‖ = 0: trust 1
}

template <class T>
void sum_of_squares_suite() {
  std::mt19937_64 rng(22);
  for (int64_t n : {int64_t(0), int64_t(1), int64_t(255), int64_t(1000)}) {
    CAPTURE(n);
    const std::vector<T> x = random_of<T>(n, rng);
    test::DeviceBuffer<T> dx(x);
    test::DeviceBuffer<double> out = test::DeviceBuffer<double>::poisoned(1),
                               again = test::DeviceBuffer<double>::poisoned(1);
    dev::sum_of_squares<T>(n, dx.get(), out.get());
    dev::sum_of_squares<T>(n, dx.get(), again.get());
    const double want = kernels::cpu::sum_of_squares<T>(n, x.data());
    test::check_close(out.download(), {want}, 1e-14, 1e-12, "sum_of_squares");
    CHECK(out.download() == again.download());  // deterministic: the same bits every run
  }
}

// More elements than the reduction grid (256 blocks of 256 threads) covers in one sweep, so each thread adds
// several; float and sum_of_squares only (lars_step shares its partial-sum kernel), as the emulation runs
// each of the 256 blocks in turn.
void large_reduction() {
  std::mt19937_64 rng(23);
  const std::vector<float> x = random_of<float>(70001, rng);
  test::DeviceBuffer<float> dx(x);
  test::DeviceBuffer<double> out = test::DeviceBuffer<double>::poisoned(1);
  dev::sum_of_squares<float>(70001, dx.get(), out.get());
  test::check_close(out.download(), {kernels::cpu::sum_of_squares<float>(70001, x.data())}, 1e-14, 1e-12,
                    "sum_of_squares");
}

}  // namespace

TEST_CASE("optim: sgd, adam, adamw and lars steps as the CPU, float and double") {
  optim_suite<float>();
  optim_suite<double>();
}

TEST_CASE("optim: sum_of_squares as the CPU, deterministic") {
  sum_of_squares_suite<float>();
  sum_of_squares_suite<double>();
}

TEST_CASE("optim: sum_of_squares beyond one reduction grid") { large_reduction(); }
