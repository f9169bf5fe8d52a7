// GEMM kernels against a direct product in double: every transpose combination, sizes that leave partial
// tiles and blocks on every side, row strides wider than the rows, alpha and beta, and beta = 0 over a C
// poisoned with NaN (which must not be read).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "kernels/gemm.h"

namespace {

namespace cpu = ssl::kernels::cpu;

struct GemmCase {
  int64_t m, n, k;
};
// 1x1x1; sizes below, at and just past the micro-tile (6 x 64 with AVX-512, 6 x 16 with AVX2) and the
// blocks (120 rows, 512 or 256 columns, depth 384); the convolution shapes of resnet18's first layer
// (64 x 1024 x 576) and of a late one.
const std::vector<GemmCase> kCases = {{1, 1, 1},     {5, 63, 7},      {6, 64, 384},   {7, 65, 385},
                                      {5, 15, 9},    {7, 17, 30},     {121, 513, 3},  {120, 257, 5},
                                      {13, 70, 800}, {64, 1024, 576}, {512, 128, 600}};

template <class T>
void check_gemm(bool trans_a, bool trans_b, const GemmCase& g, T alpha, T beta) {
  std::mt19937 rng(unsigned(g.m * 131 + g.n * 17 + g.k + trans_a * 2 + trans_b));
  std::uniform_real_distribution<double> u(-1, 1);
  // Stored shapes with 3 spare columns per row: A is [m, k] or [k, m], B is [k, n] or [n, k], C is [m, n].
  const int64_t a_rows = trans_a ? g.k : g.m, a_cols = trans_a ? g.m : g.k;
  const int64_t b_rows = trans_b ? g.n : g.k, b_cols = trans_b ? g.k : g.n;
  const int64_t lda = a_cols + 3, ldb = b_cols + 3, ldc = g.n + 3;
  std::vector<T> a(size_t(a_rows * lda)), b(size_t(b_rows * ldb)), c(size_t(g.m * ldc));
  for (T& v : a) v = T(u(rng));
  for (T& v : b) v = T(u(rng));
  const T poison = std::numeric_limits<T>::quiet_NaN();
  for (T& v : c) v = beta == T(0) ? poison : T(u(rng));
  const std::vector<T> c0 = c;

  cpu::gemm_serial<T>(trans_a, trans_b, g.m, g.n, g.k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(),
                      ldc);

  const auto at = [&](int64_t i, int64_t p) { return double(trans_a ? a[p * lda + i] : a[i * lda + p]); };
  const auto bt = [&](int64_t p, int64_t j) { return double(trans_b ? b[j * ldb + p] : b[p * ldb + j]); };
  const double tol = std::is_same_v<T, float> ? 1e-5 * std::sqrt(double(g.k)) + 1e-5 : 1e-12;
  int64_t bad = 0;
  for (int64_t i = 0; i < g.m; ++i) {
    for (int64_t j = 0; j < g.n; ++j) {
      double sum = 0;
      for (int64_t p = 0; p < g.k; ++p) sum += at(i, p) * bt(p, j);
      const double want = double(alpha) * sum + (beta == T(0) ? 0.0 : double(beta) * double(c0[i * ldc + j]));
      const double got = double(c[i * ldc + j]);
      bad += !(std::abs(got - want) <= tol * (1 + std::abs(want)));  // NaN counts as bad
    }
    for (int64_t j = g.n; j < ldc; ++j)  // the spare columns are not C's and stay as they were
      bad += !(std::isnan(c0[i * ldc + j]) ? std::isnan(c[i * ldc + j]) : c[i * ldc + j] == c0[i * ldc + j]);
  }
  CHECK_MESSAGE(bad == 0, "m=", g.m, " n=", g.n, " k=", g.k, " trans_a=", trans_a, " trans_b=", trans_b,
                " alpha=", alpha, " beta=", beta);
}

TEST_CASE("gemm_serial (float): every transpose, partial tiles and blocks, alpha and beta") {
  for (const GemmCase& g : kCases)
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        check_gemm<float>(ta, tb, g, 1.f, 0.f);
        check_gemm<float>(ta, tb, g, -0.5f, 1.f);
        check_gemm<float>(ta, tb, g, 2.f, 0.25f);
      }
}

TEST_CASE("gemm_serial (double): the Eigen path agrees too") {
  for (const GemmCase& g : {GemmCase{5, 63, 7}, GemmCase{13, 70, 40}})
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        check_gemm<double>(ta, tb, g, 1.0, 0.0);
        check_gemm<double>(ta, tb, g, 0.5, -1.0);
      }
}

TEST_CASE("gemm_serial: an empty depth scales C by beta (and zeroes it at beta = 0)") {
  // C as 2 x 2 and as 4 x 1, rows too few and enough for our kernel: either way the empty product is Eigen's.
  for (const auto& [m, n] : {std::pair<int64_t, int64_t>{2, 2}, {4, 1}}) {
    CAPTURE(m);
    std::vector<float> c = {1, 2, std::numeric_limits<float>::quiet_NaN(), 4};
    cpu::gemm_serial<float>(false, false, m, n, 0, 1.f, nullptr, 1, nullptr, n, 0.f, c.data(), n);
    CHECK(c == std::vector<float>{0, 0, 0, 0});
    std::vector<float> d = {1, 2, 3, 4};
    cpu::gemm_serial<float>(false, false, m, n, 0, 1.f, nullptr, 1, nullptr, n, 0.5f, d.data(), n);
    CHECK(d == std::vector<float>{0.5f, 1, 1.5f, 2});
  }
}

}  // namespace
