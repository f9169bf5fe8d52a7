// Nearest-neighbour upsampling against its definition: every output pixel copies the input pixel at
// (oy / scale, ox / scale), and the backward gives each input pixel the sum of its scale × scale block;
// several images and channels, planes that are not square, scales 1 to 3, and bad sizes.
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "core/error.h"
#include "kernels/compute_threads.h"
#include "kernels/upsample.h"
#include "support/kernel_check.h"

namespace {

using namespace ssl::test;
namespace cpu = ssl::kernels::cpu;

struct UpsampleCase {
  int64_t n, c, h, w, scale;
};
const std::vector<UpsampleCase> kCases = {
    {1, 1, 1, 1, 3}, {2, 3, 4, 5, 2}, {1, 2, 3, 7, 3}, {3, 1, 5, 2, 1}, {2, 2, 6, 4, 2}};

template <class T>
void check_upsample(const UpsampleCase& c, std::mt19937_64& rng) {
  CAPTURE(c.h);
  CAPTURE(c.w);
  CAPTURE(c.scale);
  const int64_t oh = c.h * c.scale, ow = c.w * c.scale, planes = c.n * c.c;
  const std::vector<T> x = cast<T>(random_vector(planes * c.h * c.w, rng));
  const std::vector<T> gy = cast<T>(random_vector(planes * oh * ow, rng));
  std::vector<double> y_ref(gy.size()), gx_ref(x.size(), 0.0);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        const size_t out = size_t((p * oh + oy) * ow + ox),
                     in = size_t((p * c.h + oy / c.scale) * c.w + ox / c.scale);
        y_ref[out] = double(x[in]);
        gx_ref[in] += double(gy[out]);
      }
  std::vector<T> y = poisoned<T>(int64_t(gy.size())), gx = poisoned<T>(int64_t(x.size()));
  cpu::upsample_nearest2d_forward<T>(c.n, c.c, c.h, c.w, c.scale, x.data(), y.data());
  check_close(y, y_ref, 0, 0, "forward");
  cpu::upsample_nearest2d_backward<T>(c.n, c.c, c.h, c.w, c.scale, gy.data(), gx.data());
  check_close(gx, gx_ref, sizeof(T) == 4 ? 1e-6 : 1e-15, 0, "backward");
}

}  // namespace

TEST_CASE("upsample_nearest2d forward and backward against the definition") {
  std::mt19937_64 rng(41);
  const ssl::kernels::ComputeThreads two(2);  // planes are shared among threads
  for (const auto& c : kCases) {
    check_upsample<float>(c, rng);
    check_upsample<double>(c, rng);
  }
}

TEST_CASE("upsample_nearest2d refuses sizes and scales below 1, naming them") {
  std::vector<float> x(4), y(16);
  CHECK_THROWS_WITH_AS(cpu::upsample_nearest2d_forward<float>(1, 1, 2, 2, 0, x.data(), y.data()),
                       doctest::Contains("scale=0"), ssl::Error);
  CHECK_THROWS_WITH_AS(cpu::upsample_nearest2d_backward<float>(1, 0, 2, 2, 2, y.data(), x.data()),
                       doctest::Contains("c=0"), ssl::Error);
}
