// conv2d kernels, both algorithms (im2col + GEMM and direct loops): forward against a loop-by-loop reference
// in double, backward against central finite differences of L = sum(r * y), and float against double at the
// sizes a training step uses.
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
#include "kernels/conv.h"
#include "support/conv_reference.h"
#include "support/kernel_check.h"

namespace {

using namespace ssl::test;

using ssl::kernels::Conv2dShape;
namespace cpu = ssl::kernels::cpu;
using cpu::ConvAlgorithm;

// The two algorithms every shape is checked with, whichever `automatic` would choose for it.
const ConvAlgorithm kAlgorithms[] = {ConvAlgorithm::gemm, ConvAlgorithm::direct};
const char* name_of(ConvAlgorithm a) { return a == ConvAlgorithm::gemm ? "im2col + GEMM" : "direct loops"; }

struct ConvCase {
  const char* name;
  Conv2dShape s;
  // Run with two threads, so that seven images make chunks of 4 and 3 (with seven threads or more each image
  // would be a chunk alone); the other cases take the machine's count.
  bool chunked = false;
};

// Small shapes for exact checks: strides 1 and 2, padding (also wider than the kernel), groups 1, 2 and
// c_in (depthwise, with and without a channel multiplier), odd and non-square sizes, 1x1 and 3x3 kernels,
// batches that the kernel splits into chunks of several images, and output channels per group below, at and
// above the direct loops' block of kDirectMaxOutputs.
const std::vector<ConvCase> kSmallCases = {
    {"3x3 s1 p1", {2, 3, 5, 5, 4, 3, 3, 1, 1, 1, 1, 1}},
    {"3x3 s2 p1 groups 2, 7x6", {3, 4, 7, 6, 6, 3, 3, 2, 2, 1, 1, 2}},
    {"3x3 s1 p1 depthwise", {3, 4, 6, 5, 4, 3, 3, 1, 1, 1, 1, 4}},
    {"3x3 s2 p0 depthwise x2", {2, 3, 7, 7, 6, 3, 3, 2, 2, 0, 0, 3}},
    {"1x1 s1 p0 (no im2col)", {3, 5, 5, 4, 3, 1, 1, 1, 1, 0, 0, 1}},
    {"1x1 s1 p0 groups 2 (no im2col)", {2, 4, 3, 5, 6, 1, 1, 1, 1, 0, 0, 2}},
    {"1x1 s2 p0", {2, 3, 5, 5, 4, 1, 1, 2, 2, 0, 0, 1}},
    {"3x2 s(2,1) p(1,0)", {2, 2, 7, 5, 3, 3, 2, 2, 1, 1, 0, 1}},
    {"3x3 s1 p2 (whole rows of padding)", {1, 2, 4, 4, 3, 3, 3, 1, 1, 2, 2, 1}},
    {"5x5 p2 on 3x3 s2", {2, 2, 3, 3, 2, 5, 5, 2, 2, 2, 2, 1}},
    // Small planes and more images than threads: several images share one GEMM, the last chunk short.
    {"3x3 s1 p1, 7 images in chunks", {7, 3, 4, 4, 5, 3, 3, 1, 1, 1, 1, 1}, true},
    {"1x1 s1 p0, 7 images in chunks", {7, 4, 3, 3, 5, 1, 1, 1, 1, 0, 0, 1}, true},
    {"3x3 s1 p1, 9 outputs, rows longer than a tile", {2, 3, 5, 37, 9, 3, 3, 1, 1, 1, 1, 1}},
    {"3x3 s2 p1, 10 outputs in groups 2, strided rows of 32", {2, 4, 4, 64, 10, 3, 3, 2, 2, 1, 1, 2}},
    // Unpadded rows of exactly one tile: a tile's last read is the last element of x.
    {"3x3 s1 p0, rows of one tile", {2, 3, 4, 18, 3, 3, 3, 1, 1, 0, 0, 1}},
    {"3x3 s(2,1) p0, rows of a tile and 3", {2, 2, 7, 21, 4, 3, 3, 2, 1, 0, 0, 1}},
};

template <class T>
void check_forward_case(const ConvCase& c, bool with_bias, ConvAlgorithm a, std::mt19937_64& rng, double atol,
                        double rtol) {
  const Conv2dShape& s = c.s;
  const auto x = random_vector(x_count(s), rng), w = random_vector(w_count(s), rng);
  const auto b = with_bias ? random_vector(s.c_out, rng) : std::vector<double>{};
  const auto ref = conv_reference(s, x, w, b);
  const auto xt = cast<T>(x), wt = cast<T>(w), bt = cast<T>(b);
  auto y = poisoned<T>(y_count(s));
  cpu::conv2d_forward<T>(s, xt.data(), wt.data(), with_bias ? bt.data() : nullptr, y.data(), nullptr, a);
  check_close(y, ref, atol, rtol, std::string(c.name) + (with_bias ? " with bias" : " no bias"));
}

}  // namespace

TEST_CASE("conv2d_forward matches the loop-by-loop reference") {
  std::mt19937_64 rng(1);
  // Larger than a cache-line or two, with groups, so that the GEMM blocking and thread split are exercised.
  std::vector<ConvCase> cases = kSmallCases;
  cases.push_back({"medium 16->32 k3 s1 p1 groups 2", {3, 16, 12, 11, 32, 3, 3, 1, 1, 1, 1, 2}});
  for (const ConvAlgorithm a : kAlgorithms)
    for (const auto& c : cases) {
      CAPTURE(name_of(a));
      CAPTURE(c.name);
      const ssl::kernels::ComputeThreads threads(c.chunked ? 2 : 0);
      for (bool with_bias : {true, false}) {
        check_forward_case<double>(c, with_bias, a, rng, 1e-12, 1e-12);
        check_forward_case<float>(c, with_bias, a, rng, 1e-5, 1e-5);
      }
    }
}

namespace {

template <class T>
void check_moments_case(const ConvCase& c, double offset, ConvAlgorithm a, std::mt19937_64& rng, double tol) {
  const Conv2dShape& s = c.s;
  const auto x = random_vector(x_count(s), rng), w = random_vector(w_count(s), rng);
  const auto b = std::vector<double>(s.c_out, offset);  // a large offset: |mean| >> std
  const auto xt = cast<T>(x), wt = cast<T>(w), bt = cast<T>(b);
  auto y = poisoned<T>(y_count(s));
  auto moments = poisoned<double>(2 * s.n * s.c_out);
  cpu::conv2d_forward<T>(s, xt.data(), wt.data(), bt.data(), y.data(), moments.data(), a);
  const std::string name = std::string(c.name) + " offset " + std::to_string(offset);
  check_close(y, conv_reference(s, x, w, b), tol * (1 + offset), tol, name + " y");
  // The moments of the y the kernel wrote (rounding in y is the convolution's, not the moments').
  check_close(moments, moments_reference(y, s.n * s.c_out, s.out_h() * s.out_w()), tol, tol,
              name + " moments");
}

}  // namespace

TEST_CASE("conv2d_forward with moments writes y and every output plane's mean and spread") {
  std::mt19937_64 rng(7);
  std::vector<ConvCase> cases = kSmallCases;
  cases.push_back({"1x1 on 2x2 planes, 19 images in chunks", {19, 6, 2, 2, 5, 1, 1, 1, 1, 0, 0, 1}});
  cases.push_back({"medium 16->32 k3 s1 p1 groups 2", {3, 16, 12, 11, 32, 3, 3, 1, 1, 1, 1, 2}});
  for (const ConvAlgorithm a : kAlgorithms)
    for (const auto& c : cases) {
      CAPTURE(name_of(a));
      CAPTURE(c.name);
      for (double offset : {0.0, 1000.0}) {
        check_moments_case<double>(c, offset, a, rng, 1e-10);
        check_moments_case<float>(c, offset, a, rng, 1e-4);
      }
    }
}

TEST_CASE("conv2d_backward matches central finite differences") {
  std::mt19937_64 rng(2);
  for (const ConvAlgorithm a : kAlgorithms)
    for (const auto& c : kSmallCases) {
      CAPTURE(name_of(a));
      CAPTURE(c.name);
      const ssl::kernels::ComputeThreads threads(c.chunked ? 2 : 0);
      const Conv2dShape& s = c.s;
      auto x = random_vector(x_count(s), rng), w = random_vector(w_count(s), rng);
      auto b = random_vector(s.c_out, rng);
      const auto r = random_vector(y_count(s), rng);  // L = sum(r * y), so dL/dy = r
      auto loss = [&] { return dot(r, conv_reference(s, x, w, b)); };

      auto gx = poisoned<double>(x_count(s)), gw = poisoned<double>(w_count(s)),
           gb = poisoned<double>(s.c_out);
      cpu::conv2d_backward<double>(s, x.data(), w.data(), r.data(), gx.data(), gw.data(), gb.data(), a);

      // L is linear in each single element, so central differences are exact up to rounding.
      const double h = 1e-3;
      check_close(gx, numeric_gradient(x, loss, h), 1e-9, 1e-8, std::string(c.name) + " gx");
      check_close(gw, numeric_gradient(w, loss, h), 1e-9, 1e-8, std::string(c.name) + " gw");
      check_close(gb, numeric_gradient(b, loss, h), 1e-9, 1e-8, std::string(c.name) + " gb");
    }
}

TEST_CASE("conv2d_backward computes each requested gradient alone, the same as all together") {
  std::mt19937_64 rng(3);
  for (const ConvAlgorithm a : kAlgorithms)
    for (const auto& c : kSmallCases) {
      CAPTURE(name_of(a));
      CAPTURE(c.name);
      const Conv2dShape& s = c.s;
      const auto x = cast<float>(random_vector(x_count(s), rng)),
                 w = cast<float>(random_vector(w_count(s), rng));
      const auto gy = cast<float>(random_vector(y_count(s), rng));
      auto gx = poisoned<float>(x_count(s)), gw = poisoned<float>(w_count(s)), gb = poisoned<float>(s.c_out);
      cpu::conv2d_backward<float>(s, x.data(), w.data(), gy.data(), gx.data(), gw.data(), gb.data(), a);

      auto gx1 = poisoned<float>(x_count(s)), gw1 = poisoned<float>(w_count(s)),
           gb1 = poisoned<float>(s.c_out);
      cpu::conv2d_backward<float>(s, nullptr, w.data(), gy.data(), gx1.data(), nullptr, nullptr, a);
      cpu::conv2d_backward<float>(s, x.data(), nullptr, gy.data(), nullptr, gw1.data(), nullptr, a);
      cpu::conv2d_backward<float>(s, nullptr, nullptr, gy.data(), nullptr, nullptr, gb1.data(), a);
      // Same operations in the same order: bit-for-bit equal (NaN, an unwritten element, never compares
      // equal).
      CHECK(gx1 == gx);
      CHECK(gw1 == gw);
      CHECK(gb1 == gb);
    }
}

TEST_CASE("conv2d float agrees with double at training sizes; weight gradients are deterministic") {
  // The two layers of the SimCLR hot path (with a small batch), a strided depthwise layer, a 1x1 layer and a
  // generator's last layer, each by both algorithms.
  const std::vector<ConvCase> cases = {
      {"3->32 32x32 k3 p1", {6, 3, 32, 32, 32, 3, 3, 1, 1, 1, 1, 1}},
      {"32->64 16x16 k3 p1", {5, 32, 16, 16, 64, 3, 3, 1, 1, 1, 1, 1}},
      {"depthwise 32 16x16 k3 s2 p1", {4, 32, 16, 16, 32, 3, 3, 2, 2, 1, 1, 32}},
      {"1x1 64->128 8x8", {4, 64, 8, 8, 128, 1, 1, 1, 1, 0, 0, 1}},
      {"128->3 32x32 k3 p1", {4, 128, 32, 32, 3, 3, 3, 1, 1, 1, 1, 1}},
  };
  std::mt19937_64 rng(4);
  for (const ConvAlgorithm a : kAlgorithms)
    for (const auto& c : cases) {
      CAPTURE(name_of(a));
      CAPTURE(c.name);
      const Conv2dShape& s = c.s;
      const auto x = random_vector(x_count(s), rng), w = random_vector(w_count(s), rng);
      const auto b = random_vector(s.c_out, rng), gy = random_vector(y_count(s), rng);

      std::vector<double> y(y_count(s)), gx(x_count(s)), gw(w_count(s)), gb(s.c_out);
      cpu::conv2d_forward<double>(s, x.data(), w.data(), b.data(), y.data(), nullptr, a);
      cpu::conv2d_backward<double>(s, x.data(), w.data(), gy.data(), gx.data(), gw.data(), gb.data(), a);
      // The double kernel itself is checked against the reference at this size too.
      check_close(y, conv_reference(s, x, w, b), 1e-12, 1e-12, "double forward vs reference");

      const auto xf = cast<float>(x), wf = cast<float>(w), bf = cast<float>(b), gyf = cast<float>(gy);
      auto yf = poisoned<float>(y_count(s)), gxf = poisoned<float>(x_count(s));
      auto gwf = poisoned<float>(w_count(s)), gbf = poisoned<float>(s.c_out);
      cpu::conv2d_forward<float>(s, xf.data(), wf.data(), bf.data(), yf.data(), nullptr, a);
      cpu::conv2d_backward<float>(s, xf.data(), wf.data(), gyf.data(), gxf.data(), gwf.data(), gbf.data(), a);
      // Sums of hundreds to thousands of float products: scale the absolute tolerance to the output's size.
      check_close(yf, y, 1e-5 * max_abs(y), 1e-4, "float forward");
      check_close(gxf, gx, 1e-5 * max_abs(gx), 1e-4, "float gx");
      check_close(gwf, gw, 1e-5 * max_abs(gw), 1e-4, "float gw");
      check_close(gbf, gb, 1e-5 * max_abs(gb), 1e-4, "float gb");

      auto gw2 = poisoned<float>(w_count(s)), gb2 = poisoned<float>(s.c_out);
      cpu::conv2d_backward<float>(s, xf.data(), wf.data(), gyf.data(), nullptr, gw2.data(), gb2.data(), a);
      CHECK(gw2 == gwf);
      CHECK(gb2 == gbf);
    }
}

TEST_CASE("conv2d_backward gives the same gradients with 1 and 3 threads") {
  // The per-thread partial sums of gw and gb must all reach the result, whatever the machine's core count.
  const Conv2dShape s = {7, 4, 9, 8, 6, 3, 3, 2, 1, 1, 1, 2};
  std::mt19937_64 rng(5);
  const auto x = random_vector(x_count(s), rng), w = random_vector(w_count(s), rng);
  const auto gy = random_vector(y_count(s), rng);
  for (const ConvAlgorithm a : kAlgorithms) {
    CAPTURE(name_of(a));
    std::vector<double> gx1(x_count(s)), gw1(w_count(s)), gb1(s.c_out);
    {
      const ssl::kernels::ComputeThreads one(1);
      cpu::conv2d_backward<double>(s, x.data(), w.data(), gy.data(), gx1.data(), gw1.data(), gb1.data(), a);
    }
    auto gx3 = poisoned<double>(x_count(s)), gw3 = poisoned<double>(w_count(s)),
         gb3 = poisoned<double>(s.c_out);
    {
      const ssl::kernels::ComputeThreads three(3);
      cpu::conv2d_backward<double>(s, x.data(), w.data(), gy.data(), gx3.data(), gw3.data(), gb3.data(), a);
    }
    check_close(gx3, gx1, 0.0, 0.0, "gx");  // per image: no sum across threads, so bit-for-bit
    check_close(gw3, gw1, 1e-12, 1e-12, "gw");
    check_close(gb3, gb1, 1e-12, 1e-12, "gb");
  }
}

TEST_CASE("conv2d rejects invalid shapes") {
  std::vector<float> buf(4096, 1.0f);
  const float* p = buf.data();
  float* q = buf.data();
  auto forward = [&](const Conv2dShape& s) { cpu::conv2d_forward<float>(s, p, p, nullptr, q); };
  auto backward = [&](const Conv2dShape& s) { cpu::conv2d_backward<float>(s, p, p, p, q, q, q); };
  const Conv2dShape groups_do_not_divide = {1, 3, 4, 4, 4, 3, 3, 1, 1, 1, 1, 2};
  const Conv2dShape kernel_too_big = {1, 2, 4, 4, 2, 5, 5, 1, 1, 0, 0, 1};
  const Conv2dShape zero_stride = {1, 2, 4, 4, 2, 3, 3, 0, 1, 1, 1, 1};
  const Conv2dShape negative_pad = {1, 2, 4, 4, 2, 3, 3, 1, 1, -1, 0, 1};
  const Conv2dShape empty_batch = {0, 2, 4, 4, 2, 3, 3, 1, 1, 1, 1, 1};
  for (const auto& s : {groups_do_not_divide, kernel_too_big, zero_stride, negative_pad, empty_batch}) {
    CHECK_THROWS_AS(forward(s), ssl::Error);
    CHECK_THROWS_AS(backward(s), ssl::Error);
  }
  const Conv2dShape ok = {1, 2, 4, 4, 2, 3, 3, 1, 1, 1, 1, 1};
  CHECK_NOTHROW(forward(ok));
  CHECK_THROWS_AS(cpu::conv2d_backward<float>(ok, nullptr, p, p, q, q, q), ssl::Error);  // gw needs x
  CHECK_THROWS_AS(cpu::conv2d_backward<float>(ok, p, nullptr, p, q, q, q), ssl::Error);  // gx needs w
}
