// Depthwise convolution kernels (every version): forward against a direct-loop reference in double, backward
// against central finite differences of L = sum(r * y), float against double at training sizes, and the
// weight gradient's independence of the thread count.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/compute_threads.h"
#include "kernels/depthwise.h"
#include "support/conv_reference.h"
#include "support/kernel_check.h"

namespace {

using namespace ssl::test;

using ssl::kernels::Conv2dShape;
namespace cpu = ssl::kernels::cpu;

struct Case {
  const char* name;
  Conv2dShape s;
};

// Shape {n, c, h, w, c, kh, kw, stride_h, stride_w, pad_h, pad_w, c}: both 3x3 fast paths (with and without
// an interior), the generic path (other kernels, unequal strides), padding as wide as the kernel (the input
// gradient's scatter path) and images smaller than the kernel's reach.
Conv2dShape dw(int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
               int64_t ph, int64_t pw) {
  return {n, c, h, w, c, kh, kw, sh, sw, ph, pw, c};
}
const std::vector<Case> kCases = {
    {"3x3 s1 p1 9x8", dw(2, 3, 9, 8, 3, 3, 1, 1, 1, 1)},
    {"3x3 s2 p1 9x8", dw(2, 3, 9, 8, 3, 3, 2, 2, 1, 1)},
    {"3x3 s2 p1 8x8", dw(2, 2, 8, 8, 3, 3, 2, 2, 1, 1)},
    {"3x3 s1 p0 7x6", dw(2, 2, 7, 6, 3, 3, 1, 1, 0, 0)},
    {"3x3 s2 p0 7x7", dw(1, 3, 7, 7, 3, 3, 2, 2, 0, 0)},
    {"3x3 s2 p2 6x5", dw(2, 2, 6, 5, 3, 3, 2, 2, 2, 2)},
    {"3x3 s1 p1 2x2 (no interior)", dw(2, 3, 2, 2, 3, 3, 1, 1, 1, 1)},
    {"3x3 s2 p1 1x3", dw(2, 2, 1, 3, 3, 3, 2, 2, 1, 1)},
    {"3x3 s1 p2", dw(1, 2, 5, 4, 3, 3, 1, 1, 2, 2)},
    {"3x3 s1 p3 (padding wider than the kernel)", dw(1, 2, 4, 3, 3, 3, 1, 1, 3, 3)},
    {"5x5 s1 p2", dw(2, 2, 7, 9, 5, 5, 1, 1, 2, 2)},
    {"3x2 s(2,1) p(1,0)", dw(2, 3, 7, 5, 3, 2, 2, 1, 1, 0)},
    {"1x1 s1 p0", dw(2, 3, 4, 5, 1, 1, 1, 1, 0, 0)},
    {"2x2 s3 p1", dw(2, 2, 8, 7, 2, 2, 3, 3, 1, 1)},
    {"3x3 s1 p1 16x16, 5 channels", dw(3, 5, 16, 16, 3, 3, 1, 1, 1, 1)},
    // More channels than one 16-lane group, the last group partial: _v3's tiles (the default on small
    // planes).
    {"3x3 s1 p1 4x4, 21 channels", dw(2, 21, 4, 4, 3, 3, 1, 1, 1, 1)},
    {"3x3 s2 p1 4x4, 18 channels", dw(2, 18, 4, 4, 3, 3, 2, 2, 1, 1)},
    {"3x3 s1 p1 2x2, 33 channels", dw(3, 33, 2, 2, 3, 3, 1, 1, 1, 1)},
};

template <class T>
using Forward = void (*)(const Conv2dShape&, const T*, const T*, const T*, T*);
template <class T>
using Backward = void (*)(const Conv2dShape&, const T*, const T*, const T*, T*, T*, T*);

template <class T>
struct Version {
  const char* name;
  Forward<T> forward;
  Backward<T> backward;
};
template <class T>
std::vector<Version<T>> versions() {
  return {{"v1", cpu::depthwise_conv2d_forward_v1<T>, cpu::depthwise_conv2d_backward_v1<T>},
          {"v2", cpu::depthwise_conv2d_forward_v2<T>, cpu::depthwise_conv2d_backward_v2<T>},
          {"v3", cpu::depthwise_conv2d_forward_v3<T>, cpu::depthwise_conv2d_backward_v3<T>},
          {"default",
           [](const Conv2dShape& s, const T* x, const T* w, const T* b, T* y) {
             cpu::depthwise_conv2d_forward<T>(s, x, w, b, y);  // no moments
           },
           cpu::depthwise_conv2d_backward<T>}};
}

template <class T>
void check_forward(const Version<T>& v, const Case& c, bool with_bias, std::mt19937_64& rng, double tol) {
  const Conv2dShape& s = c.s;
  const auto x = random_vector(x_count(s), rng), w = random_vector(w_count(s), rng);
  const auto b = with_bias ? random_vector(s.c_out, rng) : std::vector<double>{};
  const auto xt = cast<T>(x), wt = cast<T>(w), bt = cast<T>(b);
  auto y = poisoned<T>(y_count(s));
  v.forward(s, xt.data(), wt.data(), with_bias ? bt.data() : nullptr, y.data());
  check_close(y, conv_reference(s, x, w, b), tol, tol,
              std::string(v.name) + " " + c.name + (with_bias ? " with bias" : " no bias"));
}

}  // namespace

TEST_CASE("depthwise_conv2d_forward (every version) matches the direct-loop reference") {
  std::mt19937_64 rng(1);
  for (const auto& c : kCases)
    for (bool with_bias : {true, false}) {
      for (const auto& v : versions<double>()) check_forward<double>(v, c, with_bias, rng, 1e-12);
      for (const auto& v : versions<float>()) check_forward<float>(v, c, with_bias, rng, 1e-5);
    }
}

namespace {

template <class T>
void check_moments(const Case& c, double offset, std::mt19937_64& rng, double tol) {
  const Conv2dShape& s = c.s;
  const auto x = random_vector(x_count(s), rng), w = random_vector(w_count(s), rng);
  const auto b = std::vector<double>(s.c_out, offset);  // a large offset: |mean| >> std
  const auto xt = cast<T>(x), wt = cast<T>(w), bt = cast<T>(b);
  auto y = poisoned<T>(y_count(s));
  auto moments = poisoned<double>(2 * s.n * s.c_out);
  cpu::depthwise_conv2d_forward<T>(s, xt.data(), wt.data(), bt.data(), y.data(), moments.data());
  const std::string name = std::string(c.name) + " offset " + std::to_string(offset);
  check_close(y, conv_reference(s, x, w, b), tol * (1 + offset), tol, name + " y");
  check_close(moments, moments_reference(y, s.n * s.c_out, s.out_h() * s.out_w()), tol, tol,
              name + " moments");
}

}  // namespace

TEST_CASE("depthwise_conv2d_forward with moments (v2 and v3 planes) writes y and each plane's moments") {
  std::mt19937_64 rng(5);
  for (const auto& c : kCases)
    for (double offset : {0.0, 1000.0}) {
      check_moments<double>(c, offset, rng, 1e-10);
      check_moments<float>(c, offset, rng, 1e-4);
    }
}

TEST_CASE("depthwise_conv2d_backward (every version) matches central finite differences") {
  std::mt19937_64 rng(2);
  for (const auto& c : kCases)
    for (const auto& v : versions<double>()) {
      const std::string name = std::string(v.name) + " " + c.name;
      const Conv2dShape& s = c.s;
      auto x = random_vector(x_count(s), rng), w = random_vector(w_count(s), rng);
      auto b = random_vector(s.c_out, rng);
      const auto r = random_vector(y_count(s), rng);  // L = sum(r * y), so dL/dy = r
      auto loss = [&] { return dot(r, conv_reference(s, x, w, b)); };
      auto gx = poisoned<double>(x_count(s)), gw = poisoned<double>(w_count(s)),
           gb = poisoned<double>(s.c_out);
      v.backward(s, x.data(), w.data(), r.data(), gx.data(), gw.data(), gb.data());
      // L is linear in each single element: central differences are exact up to rounding.
      const double h = 1e-3;
      check_close(gx, numeric_gradient(x, loss, h), 1e-9, 1e-8, name + " gx");
      check_close(gw, numeric_gradient(w, loss, h), 1e-9, 1e-8, name + " gw");
      check_close(gb, numeric_gradient(b, loss, h), 1e-9, 1e-8, name + " gb");
    }
}

TEST_CASE("depthwise_conv2d_backward computes each requested gradient alone, the same as all together") {
  std::mt19937_64 rng(3);
  for (const auto& c : kCases)
    for (const auto& v : versions<float>()) {
      CAPTURE(c.name);
      CAPTURE(v.name);
      const Conv2dShape& s = c.s;
      const auto x = cast<float>(random_vector(x_count(s), rng)),
                 w = cast<float>(random_vector(w_count(s), rng));
      const auto gy = cast<float>(random_vector(y_count(s), rng));
      auto gx = poisoned<float>(x_count(s)), gw = poisoned<float>(w_count(s)), gb = poisoned<float>(s.c_out);
      v.backward(s, x.data(), w.data(), gy.data(), gx.data(), gw.data(), gb.data());
      auto gx1 = poisoned<float>(x_count(s)), gw1 = poisoned<float>(w_count(s)),
           gb1 = poisoned<float>(s.c_out);
      v.backward(s, nullptr, w.data(), gy.data(), gx1.data(), nullptr, nullptr);
      v.backward(s, x.data(), nullptr, gy.data(), nullptr, gw1.data(), nullptr);
      v.backward(s, nullptr, nullptr, gy.data(), nullptr, nullptr, gb1.data());
      // NaN (an unwritten element) never compares equal.
      CHECK(gx1 == gx);
      CHECK(gw1 == gw);
      CHECK(gb1 == gb);
    }
}

TEST_CASE(
    "depthwise float agrees with double at training sizes; gradients do not depend on the thread count") {
  const std::vector<Case> cases = {
      {"32 ch 16x16 s1", dw(6, 32, 16, 16, 3, 3, 1, 1, 1, 1)},
      {"64 ch 16x16 s2", dw(5, 64, 16, 16, 3, 3, 2, 2, 1, 1)},
      {"128 ch 4x4 s1", dw(4, 128, 4, 4, 3, 3, 1, 1, 1, 1)},
  };
  std::mt19937_64 rng(4);
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const Conv2dShape& s = c.s;
    const auto x = random_vector(x_count(s), rng), w = random_vector(w_count(s), rng);
    const auto b = random_vector(s.c_out, rng), gy = random_vector(y_count(s), rng);
    // The references in double: the definition for y, v1 for the gradients (checked against finite
    // differences above).
    std::vector<double> y = conv_reference(s, x, w, b), gx(x_count(s)), gw(w_count(s)), gb(s.c_out);
    cpu::depthwise_conv2d_backward_v1<double>(s, x.data(), w.data(), gy.data(), gx.data(), gw.data(),
                                              gb.data());

    const auto xf = cast<float>(x), wf = cast<float>(w), bf = cast<float>(b), gyf = cast<float>(gy);
    auto yf = poisoned<float>(y_count(s)), gxf = poisoned<float>(x_count(s));
    auto gwf = poisoned<float>(w_count(s)), gbf = poisoned<float>(s.c_out);
    {
      const ssl::kernels::ComputeThreads one(1);
      cpu::depthwise_conv2d_forward<float>(s, xf.data(), wf.data(), bf.data(), yf.data());
      cpu::depthwise_conv2d_backward<float>(s, xf.data(), wf.data(), gyf.data(), gxf.data(), gwf.data(),
                                            gbf.data());
    }
    check_close(yf, y, 1e-5 * max_abs(y), 1e-4, "float forward");
    check_close(gxf, gx, 1e-5 * max_abs(gx), 1e-4, "float gx");
    check_close(gwf, gw, 1e-5 * max_abs(gw), 1e-4, "float gw");
    check_close(gbf, gb, 1e-5 * max_abs(gb), 1e-4, "float gb");

    auto gx3 = poisoned<float>(x_count(s)), gw3 = poisoned<float>(w_count(s)), gb3 = poisoned<float>(s.c_out);
    {
      const ssl::kernels::ComputeThreads three(3);
      cpu::depthwise_conv2d_backward<float>(s, xf.data(), wf.data(), gyf.data(), gx3.data(), gw3.data(),
                                            gb3.data());
    }
    CHECK(gx3 == gxf);
    CHECK(gw3 == gwf);
    CHECK(gb3 == gbf);
  }
}

TEST_CASE("depthwise kernels reject shapes they do not handle") {
  std::vector<float> buf(4096, 1.0f);
  const float* p = buf.data();
  float* q = buf.data();
  const Conv2dShape not_depthwise = {1, 4, 4, 4, 4, 3, 3, 1, 1, 1, 1, 2};
  const Conv2dShape multiplier_2 = {1, 2, 4, 4, 4, 3, 3, 1, 1, 1, 1, 2};
  const Conv2dShape kernel_too_big = dw(1, 2, 4, 4, 5, 5, 1, 1, 0, 0);
  const Conv2dShape zero_stride = dw(1, 2, 4, 4, 3, 3, 0, 1, 1, 1);
  const Conv2dShape empty_batch = dw(0, 2, 4, 4, 3, 3, 1, 1, 1, 1);
  for (const auto& s : {not_depthwise, multiplier_2, kernel_too_big, zero_stride, empty_batch}) {
    CHECK_THROWS_AS(cpu::depthwise_conv2d_forward<float>(s, p, p, nullptr, q), ssl::Error);
    CHECK_THROWS_AS(cpu::depthwise_conv2d_backward<float>(s, p, p, p, q, q, q), ssl::Error);
    CHECK_THROWS_AS(cpu::depthwise_conv2d_forward_v1<float>(s, p, p, nullptr, q), ssl::Error);
  }
  const Conv2dShape ok = dw(1, 2, 4, 4, 3, 3, 1, 1, 1, 1);
  CHECK_NOTHROW(cpu::depthwise_conv2d_forward<float>(ok, p, p, nullptr, q));
  CHECK_THROWS_AS(cpu::depthwise_conv2d_backward<float>(ok, nullptr, p, p, q, q, q),
                  ssl::Error);  // gw needs x
  CHECK_THROWS_AS(cpu::depthwise_conv2d_backward<float>(ok, p, nullptr, p, q, q, q),
                  ssl::Error);  // gx needs w
}
