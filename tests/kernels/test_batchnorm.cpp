// Batch-norm kernels: forward against a direct reference in double, backward against central finite
// differences of L = sum(r * y) (training mode differentiates through the batch statistics), stability with
// a large mean, float against double at training sizes.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/batchnorm.h"
#include "support/kernel_check.h"

namespace {

using namespace ssl::test;

namespace cpu = ssl::kernels::cpu;

struct BnCase {
  int64_t n, c, hw;
};
// hw = 1 is BatchNorm1d; 2x17x3 splits the channels into blocks with a remainder; n = 1 normalises over
// the plane alone.
const std::vector<BnCase> kCases = {{4, 3, 5}, {7, 5, 1}, {2, 17, 3}, {3, 2, 16}, {1, 3, 7}, {2, 20, 1}};

struct TrainRef {
  std::vector<double> y, mean, invstd, var;
};

// The definition, with the statistics computed in long double. gamma/beta empty mean 1/0.
TrainRef train_reference(const BnCase& k, const std::vector<double>& x, const std::vector<double>& gamma,
                         const std::vector<double>& beta, double eps) {
  TrainRef r{std::vector<double>(x.size()), std::vector<double>(k.c), std::vector<double>(k.c),
             std::vector<double>(k.c)};
  const long double m = static_cast<long double>(k.n * k.hw);
  for (int64_t ch = 0; ch < k.c; ++ch) {
    long double sum = 0, sq = 0;
    for (int64_t i = 0; i < k.n; ++i)
      for (int64_t q = 0; q < k.hw; ++q) sum += x[(i * k.c + ch) * k.hw + q];
    const long double mean = sum / m;
    for (int64_t i = 0; i < k.n; ++i)
      for (int64_t q = 0; q < k.hw; ++q) {
        const long double d = x[(i * k.c + ch) * k.hw + q] - mean;
        sq += d * d;
      }
    const long double var = sq / m, invstd = 1 / std::sqrt(var + eps);
    r.mean[ch] = double(mean);
    r.var[ch] = double(var);
    r.invstd[ch] = double(invstd);
    for (int64_t i = 0; i < k.n; ++i)
      for (int64_t q = 0; q < k.hw; ++q) {
        const int64_t idx = (i * k.c + ch) * k.hw + q;
        r.y[idx] = double((x[idx] - mean) * invstd * (gamma.empty() ? 1.0 : gamma[ch]) +
                          (beta.empty() ? 0.0 : beta[ch]));
      }
  }
  return r;
}

std::vector<double> eval_reference(const BnCase& k, const std::vector<double>& x,
                                   const std::vector<double>& gamma, const std::vector<double>& beta,
                                   const std::vector<double>& rmean, const std::vector<double>& rvar,
                                   double eps) {
  std::vector<double> y(x.size());
  for (int64_t i = 0; i < k.n; ++i)
    for (int64_t ch = 0; ch < k.c; ++ch)
      for (int64_t q = 0; q < k.hw; ++q) {
        const int64_t idx = (i * k.c + ch) * k.hw + q;
        y[idx] = (x[idx] - rmean[ch]) / std::sqrt(rvar[ch] + eps) * (gamma.empty() ? 1.0 : gamma[ch]) +
                 (beta.empty() ? 0.0 : beta[ch]);
      }
  return y;
}

const double kEps = 1e-5;

template <class T>
void check_train_forward(const BnCase& k, bool affine, std::mt19937_64& rng, double tol) {
  // An offset and a spread per run, so that mean and variance are not ~0 and ~1/3 by construction.
  const auto x = random_vector(k.n * k.c * k.hw, rng, -0.5, 2.0);
  const auto gamma = affine ? random_vector(k.c, rng, 0.5, 1.5) : std::vector<double>{};
  const auto beta = affine ? random_vector(k.c, rng) : std::vector<double>{};
  const auto xt = cast<T>(x), gt = cast<T>(gamma), bt = cast<T>(beta);
  const auto ref = train_reference(k, cast<double>(xt), gamma, beta, kEps);

  auto y = poisoned<T>(x.size()), mean = poisoned<T>(k.c), invstd = poisoned<T>(k.c), var = poisoned<T>(k.c);
  cpu::batch_norm_forward_train<T>(k.n, k.c, k.hw, xt.data(), affine ? gt.data() : nullptr,
                                   affine ? bt.data() : nullptr, T(kEps), y.data(), mean.data(),
                                   invstd.data(), var.data());
  const std::string what = std::string(affine ? "affine " : "plain ") + (sizeof(T) == 4 ? "float" : "double");
  check_close(y, ref.y, tol, tol, what + " y");
  check_close(mean, ref.mean, tol, tol, what + " save_mean");
  check_close(invstd, ref.invstd, tol, tol, what + " save_invstd");
  check_close(var, ref.var, tol, tol, what + " batch_var");
}

}  // namespace

TEST_CASE("batch_norm_forward_train matches the reference") {
  std::mt19937_64 rng(21);
  for (const auto& k : kCases) {
    CAPTURE(k.n);
    CAPTURE(k.c);
    CAPTURE(k.hw);
    for (bool affine : {true, false}) {
      check_train_forward<double>(k, affine, rng, 1e-12);
      check_train_forward<float>(k, affine, rng, 2e-6);
    }
  }
}

TEST_CASE("batch_norm_forward_train stays accurate when |mean| >> std") {
  // float inputs around 1e6 with a spread of 1: sum(x^2)/m - mean^2 would cancel ~12 digits, too many even
  // for double sums; the statistics of x - K, with K a value of the channel within a few std of the mean,
  // lose almost nothing.
  const BnCase k = {64, 4, 49};
  std::mt19937_64 rng(22);
  const auto xf = cast<float>(random_vector(k.n * k.c * k.hw, rng, 1e6 - 1.0, 1e6 + 1.0));
  const auto ref = train_reference(k, cast<double>(xf), {}, {}, kEps);
  const float nan = std::numeric_limits<float>::quiet_NaN();  // poisoned: every output must be written
  std::vector<float> y(xf.size(), nan), mean(k.c, nan), invstd(k.c, nan), var(k.c, nan);
  cpu::batch_norm_forward_train<float>(k.n, k.c, k.hw, xf.data(), nullptr, nullptr, float(kEps), y.data(),
                                       mean.data(), invstd.data(), var.data());
  check_close(var, ref.var, 0.0, 1e-6, "batch_var");
  check_close(invstd, ref.invstd, 0.0, 1e-6, "save_invstd");
  // y is limited by x's own rounding (ulp 0.0625 at 1e6) only through x - mean, which float computes exactly.
  check_close(y, ref.y, 1e-5, 1e-5, "y");
}

namespace {

// The per-plane moments a convolution records (kernels/cpu/plane_moments.h), in long double.
std::vector<double> plane_moments_of(const BnCase& k, const std::vector<double>& x) {
  const int64_t planes = k.n * k.c;
  std::vector<double> m(2 * planes);
  for (int64_t p = 0; p < planes; ++p) {
    long double sum = 0, sq = 0;
    for (int64_t q = 0; q < k.hw; ++q) sum += x[p * k.hw + q];
    const long double mean = sum / k.hw;
    for (int64_t q = 0; q < k.hw; ++q) sq += (x[p * k.hw + q] - mean) * (x[p * k.hw + q] - mean);
    m[p] = double(mean);
    m[planes + p] = double(sq);
  }
  return m;
}

std::vector<double> relu_of(std::vector<double> v) {
  for (double& e : v) e = std::max(e, 0.0);
  return v;
}

template <class T>
void check_moments_forward(const BnCase& k, double offset, std::mt19937_64& rng, double tol) {
  const auto x = random_vector(k.n * k.c * k.hw, rng, offset - 0.5, offset + 2.0);
  const auto gamma = random_vector(k.c, rng, 0.5, 1.5), beta = random_vector(k.c, rng);
  const auto xt = cast<T>(x), gt = cast<T>(gamma), bt = cast<T>(beta);
  const auto ref = train_reference(k, cast<double>(xt), gamma, beta, kEps);
  const auto moments = plane_moments_of(k, cast<double>(xt));
  auto y = poisoned<T>(x.size()), mean = poisoned<T>(k.c), invstd = poisoned<T>(k.c), var = poisoned<T>(k.c);
  auto scale = poisoned<T>(k.c), shift = poisoned<T>(k.c);
  cpu::batch_norm_relu_forward_train_moments<T>(
      k.n, k.c, k.hw, moments.data(), moments.data() + k.n * k.c, xt.data(), gt.data(), bt.data(), T(kEps),
      y.data(), mean.data(), invstd.data(), var.data(), scale.data(), shift.data());
  const std::string what =
      std::string(sizeof(T) == 4 ? "float" : "double") + " offset " + std::to_string(offset);
  check_close(y, relu_of(ref.y), tol, tol, what + " y");
  check_close(mean, ref.mean, tol, tol, what + " save_mean");
  check_close(invstd, ref.invstd, tol, tol, what + " save_invstd");
  check_close(var, ref.var, tol, tol, what + " batch_var");
  // The same map as the kernel that reads x for its statistics, which backward relies on.
  auto scale2 = poisoned<T>(k.c), shift2 = poisoned<T>(k.c), y2 = poisoned<T>(x.size());
  auto mean2 = poisoned<T>(k.c), invstd2 = poisoned<T>(k.c);
  cpu::batch_norm_relu_forward_train<T>(k.n, k.c, k.hw, xt.data(), gt.data(), bt.data(), T(kEps), y2.data(),
                                        mean2.data(), invstd2.data(), nullptr, scale2.data(), shift2.data());
  check_close(scale, cast<double>(scale2), tol, tol, what + " save_scale");
  check_close(shift, cast<double>(shift2), tol, tol, what + " save_shift");
}

}  // namespace

TEST_CASE("batch_norm_relu_forward_train_moments matches the reference, from per-plane moments") {
  std::mt19937_64 rng(25);
  for (const auto& k : kCases) {
    CAPTURE(k.n);
    CAPTURE(k.c);
    CAPTURE(k.hw);
    for (double offset : {0.0, 1000.0}) {
      check_moments_forward<double>(k, offset, rng, 1e-10);
      check_moments_forward<float>(k, offset, rng, 2e-5);
    }
  }
}

TEST_CASE("batch_norm_forward_eval matches the reference") {
  std::mt19937_64 rng(23);
  for (const auto& k : kCases) {
    CAPTURE(k.n);
    CAPTURE(k.c);
    CAPTURE(k.hw);
    const auto x = random_vector(k.n * k.c * k.hw, rng), gamma = random_vector(k.c, rng, 0.5, 1.5);
    const auto beta = random_vector(k.c, rng), rmean = random_vector(k.c, rng),
               rvar = random_vector(k.c, rng, 0.2, 2);
    for (bool affine : {true, false}) {
      const auto ref = eval_reference(k, x, affine ? gamma : std::vector<double>{},
                                      affine ? beta : std::vector<double>{}, rmean, rvar, kEps);
      auto y = poisoned<double>(x.size());
      cpu::batch_norm_forward_eval<double>(k.n, k.c, k.hw, x.data(), affine ? gamma.data() : nullptr,
                                           affine ? beta.data() : nullptr, rmean.data(), rvar.data(), kEps,
                                           y.data());
      check_close(y, ref, 1e-12, 1e-12, affine ? "affine double" : "plain double");
      const auto xf = cast<float>(x), gf = cast<float>(gamma), bf = cast<float>(beta);
      const auto mf = cast<float>(rmean), vf = cast<float>(rvar);
      auto yf = poisoned<float>(x.size());
      cpu::batch_norm_forward_eval<float>(k.n, k.c, k.hw, xf.data(), affine ? gf.data() : nullptr,
                                          affine ? bf.data() : nullptr, mf.data(), vf.data(), float(kEps),
                                          yf.data());
      check_close(yf, ref, 1e-5, 1e-5, affine ? "affine float" : "plain float");
    }
  }
}

TEST_CASE("batch_norm_backward_train matches central finite differences through the batch statistics") {
  std::mt19937_64 rng(24);
  const double h = 1e-5;  // the loss is smooth: O(h^2) truncation ~1e-10, rounding ~1e-11
  for (const auto& k : kCases) {
    CAPTURE(k.n);
    CAPTURE(k.c);
    CAPTURE(k.hw);
    auto x = random_vector(k.n * k.c * k.hw, rng, -0.5, 2.0);
    auto gamma = random_vector(k.c, rng, 0.5, 1.5), beta = random_vector(k.c, rng);
    const auto r = random_vector(x.size(), rng);
    for (bool affine : {true, false}) {
      std::vector<double> y(x.size()), mean(k.c), invstd(k.c);
      const double* g = affine ? gamma.data() : nullptr;
      cpu::batch_norm_forward_train<double>(k.n, k.c, k.hw, x.data(), g, affine ? beta.data() : nullptr, kEps,
                                            y.data(), mean.data(), invstd.data(), nullptr);
      auto gx = poisoned<double>(x.size()), ggamma = poisoned<double>(k.c), gbeta = poisoned<double>(k.c);
      cpu::batch_norm_backward_train<double>(k.n, k.c, k.hw, x.data(), g, mean.data(), invstd.data(),
                                             r.data(), gx.data(), ggamma.data(), gbeta.data());
      auto loss = [&] {
        return dot(r, train_reference(k, x, affine ? gamma : std::vector<double>{},
                                      affine ? beta : std::vector<double>{}, kEps)
                          .y);
      };
      const std::string what = affine ? "affine" : "plain";
      check_close(gx, numeric_gradient(x, loss, h), 1e-7, 1e-6, what + " gx");
      if (affine) {
        check_close(ggamma, numeric_gradient(gamma, loss, h), 1e-7, 1e-6, "ggamma");
        check_close(gbeta, numeric_gradient(beta, loss, h), 1e-7, 1e-6, "gbeta");
      } else {
        // Without gamma the parameter gradients are still defined: those of gamma = 1 and beta = 0.
        std::vector<double> ones(k.c, 1.0), zeros(k.c, 0.0);
        auto loss1 = [&] { return dot(r, train_reference(k, x, ones, zeros, kEps).y); };
        check_close(ggamma, numeric_gradient(ones, loss1, h), 1e-7, 1e-6, "ggamma at gamma = 1");
        check_close(gbeta, numeric_gradient(zeros, loss1, h), 1e-7, 1e-6, "gbeta at beta = 0");
      }
    }
  }
}

TEST_CASE("batch_norm_backward_eval matches central finite differences") {
  std::mt19937_64 rng(25);
  const double h = 1e-4;  // the eval-mode layer is affine in x, gamma and beta: differences are exact
  for (const auto& k : kCases) {
    CAPTURE(k.n);
    CAPTURE(k.c);
    CAPTURE(k.hw);
    auto x = random_vector(k.n * k.c * k.hw, rng);
    auto gamma = random_vector(k.c, rng, 0.5, 1.5), beta = random_vector(k.c, rng);
    const auto rmean = random_vector(k.c, rng), rvar = random_vector(k.c, rng, 0.2, 2);
    const auto r = random_vector(x.size(), rng);
    auto loss = [&] { return dot(r, eval_reference(k, x, gamma, beta, rmean, rvar, kEps)); };

    auto gx = poisoned<double>(x.size()), ggamma = poisoned<double>(k.c), gbeta = poisoned<double>(k.c);
    cpu::batch_norm_backward_eval<double>(k.n, k.c, k.hw, x.data(), gamma.data(), rmean.data(), rvar.data(),
                                          kEps, r.data(), gx.data(), ggamma.data(), gbeta.data());
    const auto num_gx = numeric_gradient(x, loss, h);
    check_close(gx, num_gx, 1e-9, 1e-8, "gx");
    check_close(ggamma, numeric_gradient(gamma, loss, h), 1e-9, 1e-8, "ggamma");
    check_close(gbeta, numeric_gradient(beta, loss, h), 1e-9, 1e-8, "gbeta");

    auto gx_only = poisoned<double>(x.size());
    cpu::batch_norm_backward_eval<double>(k.n, k.c, k.hw, gamma.data(), rvar.data(), kEps, r.data(),
                                          gx_only.data());
    check_close(gx_only, num_gx, 1e-9, 1e-8, "gx (gx-only overload)");
  }
}

TEST_CASE("batch_norm float agrees with double at training sizes") {
  std::mt19937_64 rng(26);
  // After a 3x3 convolution of the SimCLR network, and BatchNorm1d in a projection head.
  for (const BnCase& k : {BnCase{32, 32, 256}, BnCase{256, 128, 1}}) {
    CAPTURE(k.n);
    CAPTURE(k.c);
    CAPTURE(k.hw);
    const auto x = random_vector(k.n * k.c * k.hw, rng, -1.0, 3.0), gy = random_vector(x.size(), rng);
    const auto gamma = random_vector(k.c, rng, 0.5, 1.5), beta = random_vector(k.c, rng);
    std::vector<double> y(x.size()), mean(k.c), invstd(k.c), var(k.c), gx(x.size()), gg(k.c), gb(k.c);
    cpu::batch_norm_forward_train<double>(k.n, k.c, k.hw, x.data(), gamma.data(), beta.data(), kEps, y.data(),
                                          mean.data(), invstd.data(), var.data());
    cpu::batch_norm_backward_train<double>(k.n, k.c, k.hw, x.data(), gamma.data(), mean.data(), invstd.data(),
                                           gy.data(), gx.data(), gg.data(), gb.data());

    const auto xf = cast<float>(x), gyf = cast<float>(gy), gammaf = cast<float>(gamma),
               betaf = cast<float>(beta);
    auto yf = poisoned<float>(x.size()), meanf = poisoned<float>(k.c), invstdf = poisoned<float>(k.c);
    auto varf = poisoned<float>(k.c), gxf = poisoned<float>(x.size());
    auto ggf = poisoned<float>(k.c), gbf = poisoned<float>(k.c);
    cpu::batch_norm_forward_train<float>(k.n, k.c, k.hw, xf.data(), gammaf.data(), betaf.data(), float(kEps),
                                         yf.data(), meanf.data(), invstdf.data(), varf.data());
    cpu::batch_norm_backward_train<float>(k.n, k.c, k.hw, xf.data(), gammaf.data(), meanf.data(),
                                          invstdf.data(), gyf.data(), gxf.data(), ggf.data(), gbf.data());
    check_close(yf, y, 1e-5, 1e-5, "y");
    check_close(meanf, mean, 1e-6, 1e-6, "save_mean");
    check_close(invstdf, invstd, 1e-6, 1e-6, "save_invstd");
    check_close(varf, var, 1e-6, 1e-6, "batch_var");
    check_close(gxf, gx, 1e-5, 1e-4, "gx");
    // Sums over thousands of values: tolerance relative to their typical size.
    check_close(ggf, gg, 1e-4 * std::sqrt(double(k.n * k.hw)), 1e-5, "ggamma");
    check_close(gbf, gb, 1e-4 * std::sqrt(double(k.n * k.hw)), 1e-5, "gbeta");

    // Each output alone equals the same output computed together.
    auto gg_only = poisoned<float>(k.c), gx_only = poisoned<float>(x.size());
    cpu::batch_norm_backward_train<float>(k.n, k.c, k.hw, xf.data(), gammaf.data(), meanf.data(),
                                          invstdf.data(), gyf.data(), nullptr, gg_only.data(), nullptr);
    cpu::batch_norm_backward_train<float>(k.n, k.c, k.hw, xf.data(), gammaf.data(), meanf.data(),
                                          invstdf.data(), gyf.data(), gx_only.data(), nullptr, nullptr);
    CHECK(gg_only == ggf);
    CHECK(gx_only == gxf);
  }
}

TEST_CASE("batch_norm rejects invalid sizes") {
  std::vector<float> b(64, 1.0f);
  float* p = b.data();
  CHECK_THROWS_AS(cpu::batch_norm_forward_train<float>(1, 4, 1, p, p, p, 1e-5f, p, p, p, p), ssl::Error);
  CHECK_THROWS_AS(cpu::batch_norm_forward_train<float>(2, 0, 3, p, p, p, 1e-5f, p, p, p, p), ssl::Error);
  CHECK_THROWS_AS(cpu::batch_norm_forward_train<float>(2, 2, 2, p, p, p, -1.0f, p, p, p, p), ssl::Error);
  CHECK_NOTHROW(
      cpu::batch_norm_forward_train<float>(2, 4, 1, p, p, p, 1e-5f, p + 16, p + 32, p + 40, nullptr));
  CHECK_THROWS_AS(cpu::batch_norm_forward_eval<float>(0, 4, 1, p, p, p, p, p, 1e-5f, p), ssl::Error);
  CHECK_THROWS_AS(cpu::batch_norm_backward_eval<float>(2, 2, 2, nullptr, p, p, p, 1e-5f, p, p, p, p),
                  ssl::Error);
}
