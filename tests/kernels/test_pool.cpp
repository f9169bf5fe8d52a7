// Pooling kernels: forward against direct-loop references in double, backward against central finite
// differences of L = sum(r * y), edge cases of max pooling (padding, ties, NaN, -inf), float against double.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/pool.h"
#include "support/kernel_check.h"

namespace {

using namespace ssl::test;

using ssl::kernels::Pool2dShape;
namespace cpu = ssl::kernels::cpu;

struct PoolCase {
  const char* name;
  Pool2dShape s;
};

// n, c, h, w, kh, kw, stride_h, stride_w, pad_h, pad_w
const std::vector<PoolCase> kPoolCases = {
    {"2x2 s2", {2, 3, 6, 6, 2, 2, 2, 2, 0, 0}},
    {"2x2 s2 on odd 7x5", {2, 2, 7, 5, 2, 2, 2, 2, 0, 0}},
    {"3x3 s2 p1 on 7x7", {2, 3, 7, 7, 3, 3, 2, 2, 1, 1}},
    {"3x3 s1 p1 (overlapping)", {1, 2, 5, 6, 3, 3, 1, 1, 1, 1}},
    {"2x3 s(1,2) p(1,1) on 5x6", {2, 2, 5, 6, 2, 3, 1, 2, 1, 1}},
    {"1x1 s1", {1, 2, 3, 4, 1, 1, 1, 1, 0, 0}},
    {"whole plane 4x5", {3, 2, 4, 5, 4, 5, 1, 1, 0, 0}},
};

struct AdaptiveCase {
  int64_t n, c, h, w, oh, ow;
};
const std::vector<AdaptiveCase> kAdaptiveCases = {
    {2, 3, 7, 5, 3, 2},  // uneven bins
    {2, 2, 4, 4, 1, 1},  // global average
    {1, 2, 5, 5, 5, 5},  // identity
    {2, 2, 3, 4, 5, 6},  // more outputs than inputs: bins overlap and repeat
    {1, 3, 6, 6, 4, 4},  // overlapping bins
};

int64_t in_count(const Pool2dShape& s) { return s.n * s.c * s.h * s.w; }
int64_t out_count(const Pool2dShape& s) { return s.n * s.c * s.out_h() * s.out_w(); }

// Distinct values at least `gap` apart, in random order, offset by `shift`: no ties, and finite differences
// smaller than gap/2 never change which element is a window's maximum.
std::vector<double> distinct_vector(int64_t n, std::mt19937_64& rng, double gap, double shift) {
  std::vector<double> v(n);
  std::iota(v.begin(), v.end(), 0.0);
  std::shuffle(v.begin(), v.end(), rng);
  std::uniform_real_distribution<double> jitter(0.0, 0.25 * gap);
  for (auto& e : v) e = e * gap + shift + jitter(rng);
  return v;
}

// ---- references: the definitions, with padding handled by testing every window cell ----

struct MaxRef {
  std::vector<double> y;
  std::vector<int64_t> argmax;
};

MaxRef max_pool_reference(const Pool2dShape& s, const std::vector<double>& x) {
  const int64_t oh = s.out_h(), ow = s.out_w();
  MaxRef r{std::vector<double>(out_count(s)), std::vector<int64_t>(out_count(s))};
  for (int64_t pl = 0; pl < s.n * s.c; ++pl)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        double best = -std::numeric_limits<double>::infinity();
        int64_t idx = -1;
        for (int64_t i = 0; i < s.kh; ++i)
          for (int64_t j = 0; j < s.kw; ++j) {
            const int64_t iy = oy * s.stride_h - s.pad_h + i, ix = ox * s.stride_w - s.pad_w + j;
            if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;  // padding is -inf: never chosen
            const double v = x[pl * s.h * s.w + iy * s.w + ix];
            if (idx < 0 || v > best) {
              best = v;
              idx = iy * s.w + ix;
            }
          }
        r.y[(pl * oh + oy) * ow + ox] = best;
        r.argmax[(pl * oh + oy) * ow + ox] = idx;
      }
  return r;
}

std::vector<double> avg_pool_reference(const Pool2dShape& s, const std::vector<double>& x) {
  const int64_t oh = s.out_h(), ow = s.out_w();
  std::vector<double> y(out_count(s));
  for (int64_t pl = 0; pl < s.n * s.c; ++pl)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        double sum = 0;
        for (int64_t i = 0; i < s.kh; ++i)
          for (int64_t j = 0; j < s.kw; ++j) {
            const int64_t iy = oy * s.stride_h - s.pad_h + i, ix = ox * s.stride_w - s.pad_w + j;
            if (iy >= 0 && iy < s.h && ix >= 0 && ix < s.w) sum += x[pl * s.h * s.w + iy * s.w + ix];
          }
        y[(pl * oh + oy) * ow + ox] = sum / static_cast<double>(s.kh * s.kw);  // padding counts as zeros
      }
  return y;
}

std::vector<double> adaptive_reference(const AdaptiveCase& a, const std::vector<double>& x) {
  std::vector<double> y(a.n * a.c * a.oh * a.ow);
  for (int64_t pl = 0; pl < a.n * a.c; ++pl)
    for (int64_t oy = 0; oy < a.oh; ++oy)
      for (int64_t ox = 0; ox < a.ow; ++ox) {
        const auto y0 = static_cast<int64_t>(std::floor(double(oy * a.h) / a.oh));
        const auto y1 = static_cast<int64_t>(std::ceil(double((oy + 1) * a.h) / a.oh));
        const auto x0 = static_cast<int64_t>(std::floor(double(ox * a.w) / a.ow));
        const auto x1 = static_cast<int64_t>(std::ceil(double((ox + 1) * a.w) / a.ow));
        double sum = 0;
        for (int64_t iy = y0; iy < y1; ++iy)
          for (int64_t ix = x0; ix < x1; ++ix) sum += x[pl * a.h * a.w + iy * a.w + ix];
        y[(pl * a.oh + oy) * a.ow + ox] = sum / static_cast<double>((y1 - y0) * (x1 - x0));
      }
  return y;
}

template <class T>
void check_max_forward(const PoolCase& c, const std::vector<double>& x, const std::string& what) {
  const auto ref = max_pool_reference(c.s, x);
  const auto xt = cast<T>(x);
  auto y = poisoned<T>(out_count(c.s));
  std::vector<int64_t> argmax(out_count(c.s), -7);
  cpu::max_pool2d_forward<T>(c.s, xt.data(), y.data(), argmax.data());
  // The maximum is one of the inputs: exact in both precisions (x was rounded to T before the kernel).
  check_close(y, cast<double>(cast<T>(ref.y)), 0.0, 0.0, what + " y");
  CHECK_MESSAGE(argmax == ref.argmax, what << " argmax");
}

}  // namespace

TEST_CASE("max_pool2d_forward matches the reference, values and argmax") {
  std::mt19937_64 rng(11);
  for (const auto& c : kPoolCases) {
    CAPTURE(c.name);
    const auto x = distinct_vector(in_count(c.s), rng, 0.01, -1.0);
    check_max_forward<double>(c, x, c.name);
    check_max_forward<float>(c, x, c.name);
    // All inputs negative: a kernel that let the padding count as 0 would output 0 at the borders.
    const auto neg = distinct_vector(in_count(c.s), rng, 0.01, -10.0);
    check_max_forward<double>(c, neg, std::string(c.name) + " negative");
    check_max_forward<float>(c, neg, std::string(c.name) + " negative");
  }
}

TEST_CASE("max_pool2d_forward edge cases: ties, -inf, NaN") {
  const Pool2dShape s = {1, 1, 4, 4, 3, 3, 2, 2, 1, 1};  // 2x2 output, windows clipped by padding
  const double inf = std::numeric_limits<double>::infinity();
  // Poisoned, so an output the kernel leaves unwritten fails (argmax 0 is an expected value below).
  std::vector<double> y(4, std::numeric_limits<double>::quiet_NaN());
  std::vector<int64_t> argmax(4, -7);

  SUBCASE("ties choose the first element of the window in row-major order") {
    const std::vector<double> x(16, 0.5);
    cpu::max_pool2d_forward<double>(s, x.data(), y.data(), argmax.data());
    CHECK(y == std::vector<double>(4, 0.5));
    // Window (oy, ox) starts at input (2*oy - 1, 2*ox - 1), clipped to the plane.
    CHECK(argmax == std::vector<int64_t>{0, 1, 4, 5});
  }
  SUBCASE("an input of -inf is chosen over the padding") {
    const std::vector<double> x(16, -inf);
    cpu::max_pool2d_forward<double>(s, x.data(), y.data(), argmax.data());
    CHECK(y == std::vector<double>(4, -inf));
    CHECK(argmax == std::vector<int64_t>{0, 1, 4, 5});
  }
  SUBCASE("a NaN propagates to its window's output and argmax") {
    std::vector<double> x(16);
    std::iota(x.begin(), x.end(), 1.0);
    x[2 * 4 + 2] = std::nan("");  // inside only the window (1, 1): rows 1..3, columns 1..3
    cpu::max_pool2d_forward<double>(s, x.data(), y.data(), argmax.data());
    CHECK(y[0] == 6.0);  // window rows 0..1, columns 0..1: the largest is x[1][1] = 6
    CHECK(std::isnan(y[3]));
    CHECK(argmax[3] == 2 * 4 + 2);
  }
}

TEST_CASE("max_pool2d_forward on unclipped 2x2 windows (ConvNet2's): ties, -inf and NaN") {
  const Pool2dShape s = {1, 1, 4, 4, 2, 2, 2, 2, 0, 0};  // four windows, none clipped
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> y(4, std::numeric_limits<double>::quiet_NaN());
  std::vector<int64_t> argmax(4, -7);
  const std::vector<int64_t> firsts = {0, 2, 8, 10};  // each window's first cell in row-major order

  cpu::max_pool2d_forward<double>(s, std::vector<double>(16, 0.5).data(), y.data(), argmax.data());
  CHECK(y == std::vector<double>(4, 0.5));
  CHECK(argmax == firsts);
  cpu::max_pool2d_forward<double>(s, std::vector<double>(16, -inf).data(), y.data(), argmax.data());
  CHECK(y == std::vector<double>(4, -inf));
  CHECK(argmax == firsts);
  // A NaN wins its window, and of two NaNs the later cell does.
  std::vector<double> x(16);
  std::iota(x.begin(), x.end(), 1.0);
  x[5] = std::nan("");   // window (0, 0), its last cell
  x[11] = std::nan("");  // window (1, 1): cells 10, 11, 14, 15
  x[14] = std::nan("");
  cpu::max_pool2d_forward<double>(s, x.data(), y.data(), argmax.data());
  CHECK(std::isnan(y[0]));
  CHECK(argmax[0] == 5);
  CHECK(y[1] == 8.0);  // cells 2, 3, 6, 7 hold 3, 4, 7, 8
  CHECK(argmax[1] == 7);
  CHECK(y[2] == 14.0);  // cells 8, 9, 12, 13 hold 9, 10, 13, 14
  CHECK(argmax[2] == 13);
  CHECK(std::isnan(y[3]));
  CHECK(argmax[3] == 14);
}

TEST_CASE("avg_pool2d_forward and adaptive_avg_pool2d_forward match the references") {
  std::mt19937_64 rng(12);
  for (const auto& c : kPoolCases) {
    CAPTURE(c.name);
    const auto x = random_vector(in_count(c.s), rng);
    const auto ref = avg_pool_reference(c.s, x);
    auto yd = poisoned<double>(out_count(c.s));
    cpu::avg_pool2d_forward<double>(c.s, x.data(), yd.data());
    check_close(yd, ref, 1e-14, 1e-14, std::string(c.name) + " double");
    const auto xf = cast<float>(x);
    auto yf = poisoned<float>(out_count(c.s));
    cpu::avg_pool2d_forward<float>(c.s, xf.data(), yf.data());
    check_close(yf, ref, 1e-6, 1e-6, std::string(c.name) + " float");
  }
  for (const auto& a : kAdaptiveCases) {
    CAPTURE(a.h);
    CAPTURE(a.w);
    CAPTURE(a.oh);
    CAPTURE(a.ow);
    const auto x = random_vector(a.n * a.c * a.h * a.w, rng);
    const auto ref = adaptive_reference(a, x);
    auto yd = poisoned<double>(ref.size());
    cpu::adaptive_avg_pool2d_forward<double>(a.n, a.c, a.h, a.w, a.oh, a.ow, x.data(), yd.data());
    check_close(yd, ref, 1e-14, 1e-14, "adaptive double");
    const auto xf = cast<float>(x);
    auto yf = poisoned<float>(ref.size());
    cpu::adaptive_avg_pool2d_forward<float>(a.n, a.c, a.h, a.w, a.oh, a.ow, xf.data(), yf.data());
    check_close(yf, ref, 1e-6, 1e-6, "adaptive float");
  }
}

TEST_CASE("pooling backward matches central finite differences") {
  std::mt19937_64 rng(13);
  // Pooling is piecewise linear: with inputs 0.01 apart and h = 1e-4 no maximum changes, so central
  // differences are exact up to rounding.
  const double h = 1e-4;
  for (const auto& c : kPoolCases) {
    CAPTURE(c.name);
    const Pool2dShape& s = c.s;
    auto x = distinct_vector(in_count(s), rng, 0.01, -0.5);
    const auto r = random_vector(out_count(s), rng);

    std::vector<double> y(out_count(s));
    std::vector<int64_t> argmax(out_count(s));
    cpu::max_pool2d_forward<double>(s, x.data(), y.data(), argmax.data());
    auto gx = poisoned<double>(in_count(s));
    cpu::max_pool2d_backward<double>(s, r.data(), argmax.data(), gx.data());
    auto max_loss = [&] { return dot(r, max_pool_reference(s, x).y); };
    check_close(gx, numeric_gradient(x, max_loss, h), 1e-9, 1e-8, std::string(c.name) + " max gx");

    auto gxa = poisoned<double>(in_count(s));
    cpu::avg_pool2d_backward<double>(s, r.data(), gxa.data());
    auto avg_loss = [&] { return dot(r, avg_pool_reference(s, x)); };
    check_close(gxa, numeric_gradient(x, avg_loss, h), 1e-9, 1e-8, std::string(c.name) + " avg gx");
  }
  for (const auto& a : kAdaptiveCases) {
    CAPTURE(a.h);
    CAPTURE(a.w);
    CAPTURE(a.oh);
    CAPTURE(a.ow);
    auto x = random_vector(a.n * a.c * a.h * a.w, rng);
    const auto r = random_vector(a.n * a.c * a.oh * a.ow, rng);
    auto gx = poisoned<double>(x.size());
    cpu::adaptive_avg_pool2d_backward<double>(a.n, a.c, a.h, a.w, a.oh, a.ow, r.data(), gx.data());
    auto loss = [&] { return dot(r, adaptive_reference(a, x)); };
    check_close(gx, numeric_gradient(x, loss, h), 1e-9, 1e-8, "adaptive gx");
  }
}

TEST_CASE("pooling float agrees with double at training sizes") {
  std::mt19937_64 rng(14);
  const Pool2dShape mp = {8, 32, 32, 32, 2, 2, 2, 2, 0, 0};
  const Pool2dShape ap = {8, 32, 17, 17, 3, 3, 2, 2, 1, 1};
  // Distinct values, so that rounding to float cannot create a tie that double does not have.
  const auto x = distinct_vector(in_count(mp), rng, 1e-4, -10.0), gy = random_vector(out_count(mp), rng);
  const auto xf = cast<float>(x), gyf = cast<float>(gy);

  std::vector<double> y(out_count(mp)), gx(in_count(mp));
  std::vector<int64_t> am(out_count(mp)), amf(out_count(mp));
  auto yf = poisoned<float>(out_count(mp)), gxf = poisoned<float>(in_count(mp));
  cpu::max_pool2d_forward<double>(mp, x.data(), y.data(), am.data());
  cpu::max_pool2d_backward<double>(mp, gy.data(), am.data(), gx.data());
  cpu::max_pool2d_forward<float>(mp, xf.data(), yf.data(), amf.data());
  cpu::max_pool2d_backward<float>(mp, gyf.data(), amf.data(), gxf.data());
  check_close(yf, y, 1e-6, 1e-6, "max y");
  CHECK(amf == am);
  check_close(gxf, gx, 1e-6, 1e-6, "max gx");

  const auto xa = random_vector(in_count(ap), rng), gya = random_vector(out_count(ap), rng);
  std::vector<double> ya(out_count(ap)), gxa(in_count(ap));
  cpu::avg_pool2d_forward<double>(ap, xa.data(), ya.data());
  cpu::avg_pool2d_backward<double>(ap, gya.data(), gxa.data());
  const auto xaf = cast<float>(xa), gyaf = cast<float>(gya);
  auto yaf = poisoned<float>(out_count(ap)), gxaf = poisoned<float>(in_count(ap));
  cpu::avg_pool2d_forward<float>(ap, xaf.data(), yaf.data());
  cpu::avg_pool2d_backward<float>(ap, gyaf.data(), gxaf.data());
  check_close(yaf, ya, 1e-6, 1e-5, "avg y");
  check_close(gxaf, gxa, 1e-6, 1e-5, "avg gx");

  // Global average pooling of the last feature map, as a classifier head uses it.
  const int64_t n = 8, c = 64, hw = 8;
  const auto xg = random_vector(n * c * hw * hw, rng), gyg = random_vector(n * c, rng);
  std::vector<double> yg(n * c), gxg(n * c * hw * hw);
  cpu::adaptive_avg_pool2d_forward<double>(n, c, hw, hw, 1, 1, xg.data(), yg.data());
  cpu::adaptive_avg_pool2d_backward<double>(n, c, hw, hw, 1, 1, gyg.data(), gxg.data());
  const auto xgf = cast<float>(xg), gygf = cast<float>(gyg);
  auto ygf = poisoned<float>(n * c), gxgf = poisoned<float>(n * c * hw * hw);
  cpu::adaptive_avg_pool2d_forward<float>(n, c, hw, hw, 1, 1, xgf.data(), ygf.data());
  cpu::adaptive_avg_pool2d_backward<float>(n, c, hw, hw, 1, 1, gygf.data(), gxgf.data());
  check_close(ygf, yg, 1e-6, 1e-5, "adaptive y");
  check_close(gxgf, gxg, 1e-7, 1e-5, "adaptive gx");
}

TEST_CASE("pooling rejects invalid shapes and argmax") {
  std::vector<float> buf(1024, 1.0f);
  std::vector<int64_t> idx(1024, 0);
  auto max_fwd = [&](const Pool2dShape& s) {
    cpu::max_pool2d_forward<float>(s, buf.data(), buf.data(), idx.data());
  };
  auto avg_bwd = [&](const Pool2dShape& s) { cpu::avg_pool2d_backward<float>(s, buf.data(), buf.data()); };
  const Pool2dShape pad_too_big = {1, 1, 4, 4, 2, 2, 2, 2, 2, 0};
  const Pool2dShape zero_stride = {1, 1, 4, 4, 2, 2, 0, 2, 0, 0};
  const Pool2dShape kernel_too_big = {1, 1, 4, 4, 5, 2, 1, 1, 0, 0};
  for (const auto& s : {pad_too_big, zero_stride, kernel_too_big}) {
    CHECK_THROWS_AS(max_fwd(s), ssl::Error);
    CHECK_THROWS_AS(avg_bwd(s), ssl::Error);
  }
  const Pool2dShape ok = {1, 1, 4, 4, 2, 2, 2, 2, 1, 1};
  CHECK_NOTHROW(max_fwd(ok));
  idx[1] = 16;  // one past the 4x4 plane
  CHECK_THROWS_AS(cpu::max_pool2d_backward<float>(ok, buf.data(), idx.data(), buf.data()), ssl::Error);
  CHECK_THROWS_AS(cpu::adaptive_avg_pool2d_forward<float>(1, 1, 4, 4, 0, 1, buf.data(), buf.data()),
                  ssl::Error);
}
