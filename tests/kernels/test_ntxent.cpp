// Fused NT-Xent kernels: forward against a naive reference in double that materialises the whole 2N x 2N
// matrix, backward against central finite differences and against the reference's analytic gradient,
// a case small enough to write by hand, float against double at a training size, and the edge cases
// (tiny temperature, zero and tiny rows, bad arguments, determinism).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/compute_threads.h"
#include "kernels/ntxent.h"

namespace {

using ssl::kernels::NtXentSaved;
using ssl::kernels::NtXentShape;
namespace cpu = ssl::kernels::cpu;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---- naive reference (double, the full matrix) ------------------------------------------------------------

struct Reference {
  double loss;
  std::vector<double> zn, inv_norm, lse, gz;  // gz: gradient of grad_loss * loss
};

// Whether j is a candidate (a term of the log-sum-exp) of anchor i.
bool is_candidate(int64_t i, int64_t j, int64_t n, bool cross) { return cross ? (i < n) != (j < n) : i != j; }

Reference reference(const NtXentShape& s, const std::vector<double>& z, double tau, double grad_loss) {
  const int64_t m = s.two_n, d = s.d, n = m / 2;
  Reference r;
  r.zn.resize(m * d);
  r.inv_norm.resize(m);
  for (int64_t i = 0; i < m; ++i) {
    double sq = 0;
    for (int64_t k = 0; k < d; ++k) sq += z[i * d + k] * z[i * d + k];
    r.inv_norm[i] = 1 / std::max(std::sqrt(sq), 1e-12);
    for (int64_t k = 0; k < d; ++k) r.zn[i * d + k] = z[i * d + k] * r.inv_norm[i];
  }
  // S with the non-candidates (the diagonal, or the own view) at -inf.
  std::vector<double> sim(m * m);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < m; ++j) {
      double dot = 0;
      for (int64_t k = 0; k < d; ++k) dot += r.zn[i * d + k] * r.zn[j * d + k];
      sim[i * m + j] = is_candidate(i, j, n, s.cross_view_only) ? dot / tau : -INFINITY;
    }
  r.lse.resize(m);
  r.loss = 0;
  for (int64_t i = 0; i < m; ++i) {
    double mx = -INFINITY, sum = 0;
    for (int64_t j = 0; j < m; ++j) mx = std::max(mx, sim[i * m + j]);
    for (int64_t j = 0; j < m; ++j) sum += std::exp(sim[i * m + j] - mx);
    r.lse[i] = mx + std::log(sum);
    const int64_t p = i < n ? i + n : i - n;
    r.loss += r.lse[i] - sim[i * m + p];
  }
  r.loss /= m;
  // G = dL/dS, dzn = (G + G^T) zn / tau, dz = inv_norm (dzn - zn (zn . dzn)).
  std::vector<double> gs(m * m, 0.0), dzn(m * d, 0.0);
  for (int64_t i = 0; i < m; ++i) {
    const int64_t p = i < n ? i + n : i - n;
    for (int64_t j = 0; j < m; ++j)
      if (is_candidate(i, j, n, s.cross_view_only))
        gs[i * m + j] = grad_loss / m * (std::exp(sim[i * m + j] - r.lse[i]) - (j == p ? 1.0 : 0.0));
  }
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < m; ++j)
      for (int64_t k = 0; k < d; ++k)
        dzn[i * d + k] += (gs[i * m + j] + gs[j * m + i]) * r.zn[j * d + k] / tau;
  r.gz.resize(m * d);
  for (int64_t i = 0; i < m; ++i) {
    double dot = 0;
    for (int64_t k = 0; k < d; ++k) dot += r.zn[i * d + k] * dzn[i * d + k];
    for (int64_t k = 0; k < d; ++k)
      r.gz[i * d + k] = r.inv_norm[i] * (dzn[i * d + k] - r.zn[i * d + k] * dot);
  }
  return r;
}

// ---- running the kernel on poisoned outputs ---------------------------------------------------------------

template <class T>
struct Result {
  T loss;
  std::vector<T> zn, inv_norm, lse, gz;
};

template <class T>
Result<T> run_kernel(const NtXentShape& s, const std::vector<double>& z64, double tau, double grad_loss,
                     bool backward = true) {
  const int64_t m = s.two_n, d = s.d;
  const std::vector<T> z(z64.begin(), z64.end());
  Result<T> r;
  const T nan = T(kNaN);
  r.zn.assign(m * d, nan);
  r.inv_norm.assign(m, nan);
  r.lse.assign(m, nan);
  r.gz.assign(m * d, nan);
  NtXentSaved<T> saved{r.zn.data(), r.inv_norm.data(), r.lse.data()};
  r.loss = cpu::ntxent_forward<T>(s, z.data(), T(tau), saved);
  if (backward) cpu::ntxent_backward<T>(s, T(tau), saved.as_const(), T(grad_loss), r.gz.data());
  return r;
}

std::vector<double> random_embeddings(int64_t m, int64_t d, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> scale(0.2, 5.0);
  std::vector<double> z(m * d);
  for (int64_t i = 0; i < m; ++i) {  // rows of different lengths and a shared offset: not normalised
    const double sc = scale(rng);
    for (int64_t k = 0; k < d; ++k) z[i * d + k] = sc * (normal(rng) + 0.3);
  }
  return z;
}

// Largest |a - b| / (atol + rtol |b|) over the elements: <= 1 means all within tolerance (NaN fails).
template <class T>
double worst(const std::vector<T>& a, const std::vector<double>& b, double atol, double rtol) {
  REQUIRE(a.size() == b.size());
  double w = 0;
  for (size_t k = 0; k < a.size(); ++k) {
    const double e = std::abs(double(a[k]) - b[k]) / (atol + rtol * std::abs(b[k]));
    if (!(e <= w)) w = std::isnan(e) ? INFINITY : e;
  }
  return w;
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

struct Size {
  int64_t two_n, d;
};
// Tiles are 128 rows: 300 and 514 leave ragged tiles (and 300 / 2 = 150 puts the view boundary inside one).
const std::vector<Size> kSizes = {{2, 1}, {6, 3}, {34, 17}, {300, 8}, {514, 40}};

// Compares one kernel run (float or double) with the reference: loss, saved workspace and gradient.
template <class T>
void check_against_reference(const NtXentShape& s, double tau, uint64_t seed) {
  const double tol = std::is_same_v<T, double> ? 1e-11 : 2e-5;
  const auto z = random_embeddings(s.two_n, s.d, seed);
  const double grad_loss = 1.7;
  const Reference ref = reference(s, z, tau, grad_loss);
  const Result<T> got = run_kernel<T>(s, z, tau, grad_loss);
  CHECK(double(got.loss) == doctest::Approx(ref.loss).epsilon(tol));
  CHECK(worst(got.inv_norm, ref.inv_norm, 0, tol) <= 1);
  CHECK(worst(got.zn, ref.zn, tol, tol) <= 1);
  CHECK(worst(got.lse, ref.lse, tol / tau, tol) <= 1);
  CHECK(worst(got.gz, ref.gz, tol * (max_abs(ref.gz) + 1e-6), tol) <= 1);  // d = 1: the gradient is 0
}

}  // namespace

TEST_CASE("ntxent: forward and backward match the naive reference (double and float, both variants)") {
  uint64_t seed = 1;
  for (const Size& sz : kSizes)
    for (bool cross : {false, true})
      for (double tau : {0.5, 0.1}) {
        const NtXentShape s{sz.two_n, sz.d, cross};
        CAPTURE(sz.two_n);
        CAPTURE(sz.d);
        CAPTURE(cross);
        CAPTURE(tau);
        check_against_reference<double>(s, tau, seed);
        check_against_reference<float>(s, tau, seed);
        ++seed;
      }
}

TEST_CASE("ntxent: backward matches central finite differences of the forward (double)") {
  struct FdCase {
    int64_t two_n, d;
    int coords;  // how many coordinates to check (all of them when it is >= two_n * d)
  };
  const double tau = 0.3, grad_loss = 1.7;
  uint64_t seed = 100;
  for (const FdCase& c : std::vector<FdCase>{{2, 3, 1000}, {6, 3, 1000}, {10, 4, 1000}, {300, 5, 60}})
    for (bool cross : {false, true}) {
      const NtXentShape s{c.two_n, c.d, cross};
      CAPTURE(c.two_n);
      CAPTURE(cross);
      auto z = random_embeddings(c.two_n, c.d, seed++);
      const Result<double> got = run_kernel<double>(s, z, tau, grad_loss);
      std::vector<double> scratch(c.two_n * c.d + 2 * c.two_n);
      NtXentSaved<double> ws{scratch.data(), scratch.data() + c.two_n * c.d,
                             scratch.data() + c.two_n * c.d + c.two_n};
      auto loss_at = [&](int64_t k, double v) {
        const double keep = z[k];
        z[k] = v;
        const double l = cpu::ntxent_forward<double>(s, z.data(), tau, ws);
        z[k] = keep;
        return l;
      };
      const int64_t total = c.two_n * c.d;
      const int64_t stride = c.coords >= total ? 1 : total / c.coords;
      for (int64_t k = 0; k < total; k += stride) {
        const double h = 1e-5 * std::max(1.0, std::abs(z[k]));
        const double fd = grad_loss * (loss_at(k, z[k] + h) - loss_at(k, z[k] - h)) / (2 * h);
        CAPTURE(k);
        CHECK(got.gz[k] == doctest::Approx(fd).epsilon(1e-6).scale(1e-2));
      }
    }
}

TEST_CASE("ntxent: a case written by hand; the self-similarity is excluded, not 0") {
  // Four embeddings in 2-D (2N = 4): anchors 0 and 2 are the two views of image 0 and point the same way,
  // anchors 1 and 3 (image 1) point in opposite directions. Normalised: e0 = e2 = (1, 0), e1 = (0, 1),
  // e3 = (0, -1), so cos = 1 for (0, 2), -1 for (1, 3) and 0 otherwise. With a = 1 / tau:
  //   anchors 0, 2: candidates {0, a, 0} (the positive is a): log(2 + e^a) - a  = log(1 + 2 e^-a)
  //   anchors 1, 3: candidates {0, 0, -a} (the positive is -a): log(2 + e^-a) + a = log(1 + 2 e^a)
  // Cross-view only: anchors 0, 2 see {a, 0}, anchors 1, 3 see {0, -a}:
  //   loss = (log(1 + e^-a) + log(1 + e^a)) / 2.
  const std::vector<double> z = {1, 0, 0, 1, 2, 0, 0, -3};  // unnormalised on purpose
  const double tau = 0.5, a = 1 / tau;
  const double full = (std::log(1 + 2 * std::exp(-a)) + std::log(1 + 2 * std::exp(a))) / 2;
  const double cross = (std::log(1 + std::exp(-a)) + std::log(1 + std::exp(a))) / 2;
  // What a kernel that set the self-similarity to 0 (instead of -inf) would give: exp(0) joins every sum.
  const double diag_zero = (std::log(3 + std::exp(a)) - a + std::log(3 + std::exp(-a)) + a) / 2;
  REQUIRE(std::abs(full - diag_zero) > 0.1);

  const Result<double> got = run_kernel<double>({4, 2, false}, z, tau, 1.0);
  CHECK(got.loss == doctest::Approx(full).epsilon(1e-14));
  CHECK(got.lse[0] == doctest::Approx(std::log(2 + std::exp(a))).epsilon(1e-14));
  CHECK(got.lse[3] == doctest::Approx(std::log(2 + std::exp(-a))).epsilon(1e-14));
  CHECK(std::abs(got.loss - diag_zero) > 0.1);
  CHECK(got.inv_norm[2] == doctest::Approx(0.5));
  CHECK(got.inv_norm[3] == doctest::Approx(1.0 / 3));

  const Result<double> got_cross = run_kernel<double>({4, 2, true}, z, tau, 1.0);
  CHECK(got_cross.loss == doctest::Approx(cross).epsilon(1e-14));

  // The same in float (the loss is kept in float32 by callers; it must hold there too).
  const Result<float> got_f = run_kernel<float>({4, 2, false}, z, tau, 1.0);
  CHECK(double(got_f.loss) == doctest::Approx(full).epsilon(1e-6));
}

TEST_CASE("ntxent: float agrees with double at N = 512, d = 128") {
  for (bool cross : {false, true}) {
    CAPTURE(cross);
    const NtXentShape s{1024, 128, cross};
    const auto z = random_embeddings(s.two_n, s.d, 7 + cross);
    const Result<double> r64 = run_kernel<double>(s, z, 0.2, 1.0);
    const Result<float> r32 = run_kernel<float>(s, z, 0.2, 1.0);
    CHECK(double(r32.loss) == doctest::Approx(r64.loss).epsilon(1e-5));
    CHECK(worst(r32.lse, r64.lse, 1e-5 / 0.2, 1e-5) <= 1);
    CHECK(worst(r32.gz, r64.gz, 1e-4 * max_abs(r64.gz), 1e-4) <= 1);
  }
}

TEST_CASE("ntxent: a tiny temperature does not overflow float (log-sum-exp with a running max)") {
  // tau = 0.01: exp(s) reaches exp(100) = 2.7e43, beyond float's range.
  for (bool cross : {false, true}) {
    CAPTURE(cross);
    const NtXentShape s{300, 16, cross};
    const auto z = random_embeddings(s.two_n, s.d, 11 + cross);
    const Reference ref = reference(s, z, 0.01, 1.0);
    const Result<float> got = run_kernel<float>(s, z, 0.01, 1.0);
    CHECK(double(got.loss) == doctest::Approx(ref.loss).epsilon(1e-4).scale(1.0));
    CHECK(worst(got.lse, ref.lse, 1e-3, 1e-5) <= 1);
    CHECK(worst(got.gz, ref.gz, 1e-3 * max_abs(ref.gz), 1e-3) <= 1);
  }
}

TEST_CASE("ntxent: zero and tiny rows (norm clamped to eps)") {
  const NtXentShape s{6, 3, false};
  const double tau = 0.4;
  SUBCASE("a zero row gives a finite loss and gradient") {
    auto z = random_embeddings(6, 3, 21);
    for (int k = 0; k < 3; ++k) z[4 * 3 + k] = 0;
    const Result<double> got = run_kernel<double>(s, z, tau, 1.0);
    CHECK(std::isfinite(got.loss));
    CHECK(std::all_of(got.zn.begin(), got.zn.end(), [](double v) { return std::isfinite(v); }));
    CHECK(std::all_of(got.gz.begin(), got.gz.end(), [](double v) { return std::isfinite(v); }));
    CHECK(got.lse[4] == doctest::Approx(std::log(5.0)));  // all its similarities are 0
  }
  SUBCASE("a row below eps: zn = z / eps is linear, the gradient has no projection") {
    auto z = random_embeddings(6, 3, 22);
    double sq = 0;
    for (int k = 0; k < 3; ++k) sq += z[1 * 3 + k] * z[1 * 3 + k];
    for (int k = 0; k < 3; ++k) z[1 * 3 + k] *= 1e-13 / std::sqrt(sq);  // norm 1e-13 < eps = 1e-12
    const Result<double> got = run_kernel<double>(s, z, tau, 1.0);
    CHECK(got.inv_norm[1] == doctest::Approx(1e12));
    std::vector<double> scratch(6 * 3 + 12);
    NtXentSaved<double> ws{scratch.data(), scratch.data() + 18, scratch.data() + 24};
    for (int k = 3; k < 6; ++k) {  // the tiny row's coordinates; steps far below the row's norm
      const double h = 1e-19, keep = z[k];
      z[k] = keep + h;
      const double up = cpu::ntxent_forward<double>(s, z.data(), tau, ws);
      z[k] = keep - h;
      const double down = cpu::ntxent_forward<double>(s, z.data(), tau, ws);
      z[k] = keep;
      CAPTURE(k);
      CHECK(got.gz[k] == doctest::Approx((up - down) / (2 * h)).epsilon(1e-5));
    }
  }
}

TEST_CASE("ntxent: deterministic for a given thread count; 1 and 2 threads agree") {
  const NtXentShape s{514, 40, false};
  const auto z = random_embeddings(s.two_n, s.d, 31);
  const auto run_with = [&](int threads) {
    const ssl::kernels::ComputeThreads pinned(threads);
    return run_kernel<double>(s, z, 0.2, 1.0);
  };
  const Result<double> a = run_with(2), b = run_with(2), one = run_with(1);
  CHECK(a.loss == b.loss);
  CHECK(a.lse == b.lse);
  CHECK(a.gz == b.gz);
  CHECK(one.loss == doctest::Approx(a.loss).epsilon(1e-13));
  CHECK(worst(one.gz, a.gz, 1e-13 * max_abs(a.gz), 1e-12) <= 1);
}

TEST_CASE("ntxent: bad arguments throw ssl::Error") {
  std::vector<float> z(8 * 4, 1.0f), zn(8 * 4), inv(8), lse(8), gz(8 * 4);
  NtXentSaved<float> saved{zn.data(), inv.data(), lse.data()};
  auto fwd = [&](NtXentShape s, float tau) { return cpu::ntxent_forward<float>(s, z.data(), tau, saved); };
  auto bwd = [&](NtXentShape s, float tau) {
    cpu::ntxent_backward<float>(s, tau, saved.as_const(), 1.0f, gz.data());
  };
  CHECK_NOTHROW(fwd({8, 4}, 0.5f));
  CHECK_NOTHROW(bwd({8, 4}, 0.5f));
  CHECK_THROWS_AS(fwd({7, 4}, 0.5f), ssl::Error);  // odd: no pairs of views
  CHECK_THROWS_AS(fwd({0, 4}, 0.5f), ssl::Error);
  CHECK_THROWS_AS(fwd({8, 0}, 0.5f), ssl::Error);
  CHECK_THROWS_AS(fwd({8, 4}, 0.0f), ssl::Error);
  CHECK_THROWS_AS(fwd({8, 4}, -1.0f), ssl::Error);
  CHECK_THROWS_AS(fwd({8, 4}, std::numeric_limits<float>::infinity()), ssl::Error);
  CHECK_THROWS_AS(fwd({8, 4}, std::numeric_limits<float>::quiet_NaN()), ssl::Error);
  CHECK_THROWS_AS(cpu::ntxent_forward<float>({8, 4}, nullptr, 0.5f, saved), ssl::Error);
  CHECK_THROWS_AS(bwd({7, 4}, 0.5f), ssl::Error);
  CHECK_THROWS_AS(bwd({8, 4}, 0.0f), ssl::Error);
  CHECK_THROWS_AS(cpu::ntxent_backward<float>({8, 4}, 0.5f, saved.as_const(), 1.0f, nullptr), ssl::Error);
}
