// conv_transpose2d kernels: the result does not depend on how many threads share the images. (Values and
// gradients are checked at the op level, tests/core/test_gradients_nn.cpp, with chunks of several images.)
#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "kernels/compute_threads.h"
#include "kernels/conv_transpose.h"
#include "support/conv_reference.h"
#include "support/kernel_check.h"

using namespace ssl::test;
using ssl::kernels::ConvTranspose2dShape;
namespace cpu = ssl::kernels::cpu;

TEST_CASE("conv_transpose2d gives the same outputs and gradients with 1 and 3 threads") {
  // Planes of 4 pixels: one thread takes all 7 images in two chunks, three threads 3 chunks of 3, 3 and 1.
  // The per-thread partial sums of gw and gb must all reach the result; y and gx are per image.
  const ConvTranspose2dShape s = {7, 4, 2, 2, 6, 4, 4, 2, 2, 1, 1, 0, 0, 2};
  std::mt19937_64 rng(6);
  const auto x = random_vector(x_count(s), rng), w = random_vector(w_count(s), rng),
             b = random_vector(s.c_out, rng);
  const auto gy = random_vector(y_count(s), rng);
  const auto run = [&](int threads) {
    const ssl::kernels::ComputeThreads pinned(threads);
    auto y = poisoned<double>(y_count(s)), gx = poisoned<double>(x_count(s)),
         gw = poisoned<double>(w_count(s)), gb = poisoned<double>(s.c_out);
    cpu::conv_transpose2d_forward<double>(s, x.data(), w.data(), b.data(), y.data());
    cpu::conv_transpose2d_backward<double>(s, x.data(), w.data(), gy.data(), gx.data(), gw.data(), gb.data());
    return std::vector<std::vector<double>>{y, gx, gw, gb};
  };
  const auto one = run(1), three = run(3);
  const char* names[] = {"y", "gx", "gw", "gb"};
  for (size_t i = 0; i < one.size(); ++i) check_close(three[i], one[i], 1e-12, 1e-12, names[i]);
}
