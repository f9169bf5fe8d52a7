// The NT-Xent kernels, every version, against the CPU twin (kernels/cpu/ntxent.cpp): loss, the saved
// workspace and the gradient, on random embeddings of several shapes (tiles cut off at odd sizes, d over
// one dzn chunk, both candidate sets), with every output poisoned first.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/error.h"
#include "kernels/common/logsumexp.h"
#include "kernels/cuda/ntxent.h"
#include "kernels/ntxent.h"
#include "support/device_buffer.h"
#include "support/kernel_check.h"

using namespace ssl;
namespace dev = ssl::kernels::SSL_CUDA_NS;
using kernels::NtXentSaved;
using kernels::NtXentShape;

namespace {

template <class T>
struct Version {
  const char* name;
  void (*forward)(const NtXentShape&, const T*, T, NtXentSaved<T>, T*);
  void (*backward)(const NtXentShape&, T, NtXentSaved<const T>, const T*, T*);
};

enum Which { kAll, kFused };  // v1 and v2; v2 only

template <class T>
std::vector<Version<T>> versions(Which which) {
  const Version<T> v1{"v1", dev::ntxent_forward_v1<T>, dev::ntxent_backward_v1<T>};
  const Version<T> v2{"v2", dev::ntxent_forward_v2<T>, dev::ntxent_backward_v2<T>};
  if (which == kFused) return {v2};
  return {v1, v2};
}

// The device workspace of one forward, poisoned.
template <class T>
struct DeviceSaved {
  test::DeviceBuffer<T> zn, inv_norm, lse;
  explicit DeviceSaved(int64_t rows, int64_t d)
      : zn(test::DeviceBuffer<T>::poisoned(rows * d)),
        inv_norm(test::DeviceBuffer<T>::poisoned(rows)),
        lse(test::DeviceBuffer<T>::poisoned(rows)) {}
  NtXentSaved<T> view() const { return {zn.get(), inv_norm.get(), lse.get()}; }
};

template <class T>
void check_against_cpu(int64_t n, int64_t d, bool cross, double temperature, Which which,
                       bool zero_row = false) {
  const bool is_float = sizeof(T) == 4;
  const double rtol = is_float ? 1e-4 : 1e-10, atol_rel = is_float ? 1e-5 : 1e-11;
  std::mt19937_64 rng(uint64_t(n * 1000 + d * 10 + cross));
  const NtXentShape s{2 * n, d, cross};
  const int64_t rows = 2 * n;
  std::vector<T> z = test::cast<T>(test::random_vector(rows * d, rng));
  if (zero_row) std::fill(z.begin(), z.begin() + d, T(0));  // a norm clamped to eps
  const T tau = T(temperature), grad_loss = T(0.75);

  std::vector<T> zn(rows * d), inv(rows), lse(rows), gz(rows * d);
  const NtXentSaved<T> cpu_saved{zn.data(), inv.data(), lse.data()};
  const T loss = kernels::cpu::ntxent_forward<T>(s, z.data(), tau, cpu_saved);
  kernels::cpu::ntxent_backward<T>(s, tau, cpu_saved.as_const(), grad_loss, gz.data());
  const std::vector<double> gz_ref = test::cast<double>(gz);
  const double gz_atol = atol_rel * test::max_abs(gz_ref);

  for (const Version<T>& v : versions<T>(which)) {
    CAPTURE(v.name);
    const test::DeviceBuffer<T> dz(z), dgrad(std::vector<T>{grad_loss});
    DeviceSaved<T> saved(rows, d);
    test::DeviceBuffer<T> dloss = test::DeviceBuffer<T>::poisoned(1),
                          dgz = test::DeviceBuffer<T>::poisoned(rows * d);
    v.forward(s, dz.get(), tau, saved.view(), dloss.get());
    test::check_close(dloss.download(), {double(loss)}, atol_rel, rtol, "loss");
    test::check_close(saved.zn.download(), test::cast<double>(zn), atol_rel, rtol, "zn");
    test::check_close(saved.inv_norm.download(), test::cast<double>(inv), 0, rtol, "inv_norm");
    test::check_close(saved.lse.download(), test::cast<double>(lse), atol_rel, rtol, "lse");
    v.backward(s, tau, saved.view().as_const(), dgrad.get(), dgz.get());
    test::check_close(dgz.download(), gz_ref, gz_atol, rtol, "gz");
  }
}

}  // namespace

// The naive version, with many more launches (each a round of fiber switches in the emulation),
// runs on the shapes that matter most (tile edges, the straddling row tile); the fused one on all; the
// unsuffixed functions in the determinism test below.
TEST_CASE("ntxent: every version matches the CPU twin (float)") {
  check_against_cpu<float>(3, 5, true, 0.1, kFused);     // a sharp softmax, few candidates
  check_against_cpu<float>(37, 40, false, 0.5, kAll);    // two row tiles of 64, the second cut off
  check_against_cpu<float>(35, 70, true, 0.2, kAll);     // a row tile straddles the views; column splits
  check_against_cpu<float>(1, 1, false, 0.5, kFused);    // M = 2: one candidate per anchor
  check_against_cpu<float>(64, 130, true, 0.5, kFused);  // views on tile boundaries; d over one dzn chunk
  check_against_cpu<float>(2, 3, false, 0.5, kFused, /*zero_row=*/true);  // a norm clamped to eps
}

TEST_CASE("ntxent: every version matches the CPU twin (double)") {
  check_against_cpu<double>(3, 5, false, 0.3, kFused);
  check_against_cpu<double>(20, 17, true, 0.5, kAll);  // 32-row tiles for doubles: straddling, split
}

TEST_CASE("online log-sum-exp (kernels/common/logsumexp.h): any split and grouping gives log sum exp") {
  std::mt19937_64 rng(5);
  std::vector<double> x = test::random_vector(37, rng, -40, 40);
  x[3] = x[20] = -std::numeric_limits<double>::infinity();  // masked entries add nothing
  double direct = 0;
  for (double v : x)
    if (std::isfinite(v)) direct += std::exp(v);
  direct = std::log(direct);
  for (int chunk : {1, 4, 37}) {
    CAPTURE(chunk);
    // Push chunks into one state, and also each chunk into its own state merged afterwards.
    lse::Running<double> pushed = lse::empty<double>(), merged = lse::empty<double>();
    for (int b = 0; b < 37; b += chunk) {
      const int count = std::min(chunk, 37 - b);
      double m = -std::numeric_limits<double>::infinity();
      for (int k = 0; k < count; ++k) m = std::max(m, x[b + k]);
      pushed = lse::push(pushed, x.data() + b, count, m);
      merged = lse::merge(merged, lse::push(lse::empty<double>(), x.data() + b, count, m));
    }
    CHECK(lse::value(pushed) == doctest::Approx(direct).epsilon(1e-13));
    CHECK(lse::value(merged) == doctest::Approx(direct).epsilon(1e-13));
  }
  // The empty state is the identity, and merge is symmetric to the bit.
  const lse::Running<float> a{2.5f, 3.0f}, b{-1.0f, 7.0f}, e = lse::empty<float>();
  CHECK(lse::merge(a, e).max == a.max);
  CHECK(lse::merge(e, a).sum == a.sum);
  CHECK(lse::merge(e, e).sum == 0.0f);
  const lse::Running<float> ab = lse::merge(a, b), ba = lse::merge(b, a);
  CHECK(std::memcmp(&ab, &ba, sizeof(ab)) == 0);
}

TEST_CASE("ntxent (the default version): the loss and gradient have the same bits on every run") {
  const int64_t n = 50, d = 24;
  std::mt19937_64 rng(7);
  const NtXentShape s{2 * n, d, false};
  const std::vector<float> z_host = test::cast<float>(test::random_vector(2 * n * d, rng));
  const test::DeviceBuffer<float> z(z_host), grad(std::vector<float>{1.0f});
  std::vector<float> zn(2 * n * d), inv(2 * n), lse(2 * n), gz_ref(2 * n * d);
  const NtXentSaved<float> cpu_saved{zn.data(), inv.data(), lse.data()};
  const float loss_ref = kernels::cpu::ntxent_forward<float>(s, z_host.data(), 0.5f, cpu_saved);
  kernels::cpu::ntxent_backward<float>(s, 0.5f, cpu_saved.as_const(), 1.0f, gz_ref.data());
  std::vector<float> first_loss, first_gz;
  for (int run = 0; run < 2; ++run) {
    DeviceSaved<float> saved(2 * n, d);
    test::DeviceBuffer<float> loss = test::DeviceBuffer<float>::poisoned(1),
                              gz = test::DeviceBuffer<float>::poisoned(2 * n * d);
    dev::ntxent_forward<float>(s, z.get(), 0.5f, saved.view(), loss.get());
    dev::ntxent_backward<float>(s, 0.5f, saved.view().as_const(), grad.get(), gz.get());
    if (run == 0) {
      first_loss = loss.download();
      first_gz = gz.download();
      test::check_close(first_loss, {double(loss_ref)}, 1e-5, 1e-5, "loss");
      const std::vector<double> gz_want = test::cast<double>(gz_ref);
      test::check_close(first_gz, gz_want, 1e-5 * test::max_abs(gz_want), 1e-4, "gz");
    } else {
      CHECK(std::memcmp(first_loss.data(), loss.download().data(), sizeof(float)) == 0);
      CHECK(first_gz == gz.download());
    }
  }
}

TEST_CASE("ntxent: bad shapes and temperatures throw before anything runs") {
  const test::DeviceBuffer<float> z(std::vector<float>(12, 1.0f)), grad(std::vector<float>{1.0f});
  DeviceSaved<float> saved(4, 3);
  test::DeviceBuffer<float> loss(1), gz(12);
  CHECK_THROWS_AS(dev::ntxent_forward<float>({3, 4}, z.get(), 0.5f, saved.view(), loss.get()), Error);
  CHECK_THROWS_AS(dev::ntxent_forward<float>({4, 3}, z.get(), 0.0f, saved.view(), loss.get()), Error);
  CHECK_THROWS_AS(dev::ntxent_forward_v1<float>({4, 0}, z.get(), 0.5f, saved.view(), loss.get()), Error);
  CHECK_THROWS_AS(dev::ntxent_backward<float>({4, 3}, 0.5f, saved.view().as_const(), grad.get(), nullptr),
                  Error);
}
