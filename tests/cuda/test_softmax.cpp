// The softmax-family kernels against their CPU twins (kernels/cpu/softmax.cpp), for rows short enough for
// one warp each and long enough for one block each, with odd sizes and every output poisoned first.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>
#include <vector>

#include "kernels/cuda/softmax.h"
#include "kernels/softmax.h"
#include "support/device_buffer.h"
#include "support/kernel_check.h"

using namespace ssl;
namespace dev = ssl::kernels::SSL_CUDA_NS;

namespace {

// (rows, cols): a single element, odd rows of a warp, the longest warp row, and block rows (> 1024).
const std::vector<std::pair<int64_t, int64_t>> kShapes = {{1, 1},    {3, 7},    {11, 33},
                                                          {9, 1024}, {2, 1500}, {3, 2049}};

template <class T>
double rtol() {
  return sizeof(T) == 4 ? 2e-5 : 1e-12;
}

template <class T>
std::vector<T> random(int64_t n, std::mt19937_64& rng, double lo = -3, double hi = 3) {
  return test::cast<T>(test::random_vector(n, rng, lo, hi));
}

template <class T>
void check_softmax_and_log_softmax() {
  std::mt19937_64 rng(1);
  for (auto [rows, cols] : kShapes) {
    CAPTURE(rows);
    CAPTURE(cols);
    const int64_t n = rows * cols;
    const std::vector<T> x = random<T>(n, rng), g = random<T>(n, rng);
    const test::DeviceBuffer<T> dx(x), dg(g);
    for (bool log : {false, true}) {
      CAPTURE(log);
      std::vector<T> y(n), gx(n);
      if (log) {
        kernels::cpu::log_softmax_forward<T>(rows, cols, x.data(), y.data());
        kernels::cpu::log_softmax_backward<T>(rows, cols, y.data(), g.data(), gx.data());
      } else {
        kernels::cpu::softmax_forward<T>(rows, cols, x.data(), y.data());
        kernels::cpu::softmax_backward<T>(rows, cols, y.data(), g.data(), gx.data());
      }
      auto dy = test::DeviceBuffer<T>::poisoned(n), dgx = test::DeviceBuffer<T>::poisoned(n);
      (log ? dev::log_softmax_forward<T> : dev::softmax_forward<T>)(rows, cols, dx.get(), dy.get());
      test::check_close(dy.download(), test::cast<double>(y), rtol<T>(), rtol<T>(), "y");
      // The backward from the CPU's y, so that only the backward is compared.
      const test::DeviceBuffer<T> dy_ref(y);
      (log ? dev::log_softmax_backward<T> : dev::softmax_backward<T>)(rows, cols, dy_ref.get(), dg.get(),
                                                                      dgx.get());
      test::check_close(dgx.download(), test::cast<double>(gx), 10 * rtol<T>(), 10 * rtol<T>(), "gx");
    }
  }
}

template <class T>
void check_cross_entropy() {
  std::mt19937_64 rng(2);
  for (auto [rows, cols] : kShapes) {
    CAPTURE(rows);
    CAPTURE(cols);
    const int64_t n = rows * cols;
    const std::vector<T> x = random<T>(n, rng);
    std::vector<int64_t> targets(rows);
    for (int64_t r = 0; r < rows; ++r) targets[r] = int64_t(rng() % uint64_t(cols));
    std::vector<T> gx(n);
    const T grad_loss = T(1.25);
    const T loss = kernels::cpu::cross_entropy_forward<T>(rows, cols, x.data(), targets.data());
    kernels::cpu::cross_entropy_backward<T>(rows, cols, x.data(), targets.data(), grad_loss, gx.data());
    // The CPU keeps no log-sum-exp (its backward recomputes it); the GPU's is checked against one in double.
    std::vector<double> lse(size_t(rows), 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      const T* row = x.data() + r * cols;
      const double m = double(*std::max_element(row, row + cols));
      double sum = 0;
      for (int64_t j = 0; j < cols; ++j) sum += std::exp(double(row[j]) - m);
      lse[size_t(r)] = m + std::log(sum);
    }

    const test::DeviceBuffer<T> dx(x), dgrad(std::vector<T>{grad_loss});
    const test::DeviceBuffer<int64_t> dt(targets);
    auto dlse = test::DeviceBuffer<T>::poisoned(rows), dloss = test::DeviceBuffer<T>::poisoned(1);
    auto dgx = test::DeviceBuffer<T>::poisoned(n);
    dev::cross_entropy_forward<T>(rows, cols, dx.get(), dt.get(), dlse.get(), dloss.get());
    test::check_close(dloss.download(), {double(loss)}, rtol<T>(), rtol<T>(), "loss");
    test::check_close(dlse.download(), lse, rtol<T>(), rtol<T>(), "lse");
    dev::cross_entropy_backward<T>(rows, cols, dx.get(), dt.get(), dgrad.get(), dgx.get());
    test::check_close(dgx.download(), test::cast<double>(gx), rtol<T>(), rtol<T>(), "gx");
  }
}

template <class T>
void check_l2_normalize() {
  std::mt19937_64 rng(3);
  const T eps = T(1e-6);
  for (auto [rows, cols] : kShapes) {
    CAPTURE(rows);
    CAPTURE(cols);
    const int64_t n = rows * cols;
    std::vector<T> x = random<T>(n, rng), g = random<T>(n, rng);
    for (int64_t j = 0; j < cols; ++j) x[j] = T(1e-9);  // row 0's norm is clamped to eps
    std::vector<T> y(n), inv(rows), gx(n);
    kernels::cpu::l2_normalize_forward<T>(rows, cols, x.data(), eps, y.data(), inv.data());
    kernels::cpu::l2_normalize_backward<T>(rows, cols, y.data(), inv.data(), eps, g.data(), gx.data());

    const test::DeviceBuffer<T> dx(x), dg(g);
    auto dy = test::DeviceBuffer<T>::poisoned(n), dinv = test::DeviceBuffer<T>::poisoned(rows);
    dev::l2_normalize_forward<T>(rows, cols, dx.get(), eps, dy.get(), dinv.get());
    test::check_close(dy.download(), test::cast<double>(y), rtol<T>(), rtol<T>(), "y");
    test::check_close(dinv.download(), test::cast<double>(inv), 0, rtol<T>(), "inv_norm");
    const test::DeviceBuffer<T> dy_ref(y), dinv_ref(inv);
    auto dgx = test::DeviceBuffer<T>::poisoned(n);
    dev::l2_normalize_backward<T>(rows, cols, dy_ref.get(), dinv_ref.get(), eps, dg.get(), dgx.get());
    const std::vector<double> gx_ref = test::cast<double>(gx);
    test::check_close(dgx.download(), gx_ref, rtol<T>() * test::max_abs(gx_ref), rtol<T>(), "gx");
    // In place (gx = g), as NT-Xent's backward uses it.
    test::DeviceBuffer<T> dg_inplace(g);
    dev::l2_normalize_backward<T>(rows, cols, dy_ref.get(), dinv_ref.get(), eps, dg_inplace.get(),
                                  dg_inplace.get());
    test::check_close(dg_inplace.download(), gx_ref, rtol<T>() * test::max_abs(gx_ref), rtol<T>(),
                      "gx in place");
  }
}

}  // namespace

TEST_CASE("softmax and log_softmax, forward and backward, match the CPU") {
  check_softmax_and_log_softmax<float>();
  check_softmax_and_log_softmax<double>();
}

TEST_CASE("cross_entropy forward (loss, lse) and backward match the CPU") {
  check_cross_entropy<float>();
  check_cross_entropy<double>();
}

TEST_CASE("cross_entropy and log_softmax keep float's accuracy for logits near 1e4") {
  // Three equal logits: every probability 1/3, every log-probability −log 3, loss log 3 and gradient
  // (1/3, 1/3, −2/3) for target 2; rounding the row's log-sum-exp to float would be 2e-5 to 4e-4 off.
  const test::DeviceBuffer<float> dx(std::vector<float>(3, 10000.f)), dgrad(std::vector<float>{1.f});
  const test::DeviceBuffer<int64_t> dt(std::vector<int64_t>{2});
  auto dlse = test::DeviceBuffer<float>::poisoned(1), dloss = test::DeviceBuffer<float>::poisoned(1);
  auto dgx = test::DeviceBuffer<float>::poisoned(3), dlog = test::DeviceBuffer<float>::poisoned(3);
  dev::cross_entropy_forward<float>(1, 3, dx.get(), dt.get(), dlse.get(), dloss.get());
  dev::cross_entropy_backward<float>(1, 3, dx.get(), dt.get(), dgrad.get(), dgx.get());
  dev::log_softmax_forward<float>(1, 3, dx.get(), dlog.get());
  const double third = 1 / 3.0;
  test::check_close(dloss.download(), {std::log(3.0)}, 0, 1e-6, "loss");
  test::check_close(dgx.download(), {third, third, -2 * third}, 0, 1e-6, "gradient");
  test::check_close(dlog.download(), std::vector<double>(3, -std::log(3.0)), 0, 1e-6, "log-probabilities");
}

TEST_CASE("cross_entropy: a target out of range makes the loss NaN") {
  const std::vector<float> x = {0.5f, -1.0f, 2.0f, 0.25f};
  const test::DeviceBuffer<float> dx(x);
  const test::DeviceBuffer<int64_t> dt(std::vector<int64_t>{1, 2});  // row 1's target is past cols = 2
  // The loss starts finite, as the expected value is NaN; lse is poisoned as usual.
  auto lse = test::DeviceBuffer<float>::poisoned(2);
  test::DeviceBuffer<float> loss(std::vector<float>{12345.f});
  dev::cross_entropy_forward<float>(2, 2, dx.get(), dt.get(), lse.get(), loss.get());
  CHECK(std::isnan(loss.download()[0]));
}

TEST_CASE("l2_normalize forward and backward match the CPU, clamped rows included") {
  check_l2_normalize<float>();
  check_l2_normalize<double>();
}
