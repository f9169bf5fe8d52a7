// The CUDA nearest upsampling against the CPU twin: forward copies exactly, backward sums each block in the
// CPU's order (bit for bit).
#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "kernels/cuda/upsample.h"
#include "kernels/upsample.h"
#include "support/device_buffer.h"
#include "support/kernel_check.h"

using namespace ssl;
namespace dev = ssl::kernels::SSL_CUDA_NS;

TEST_CASE("upsample CUDA: nearest forward and backward match the CPU twin") {
  std::mt19937_64 rng(3);
  struct Case {
    int64_t n, c, h, w, scale;
  };
  for (const Case& k : {Case{2, 3, 5, 7, 2}, Case{1, 2, 3, 4, 3}, Case{1, 1, 4, 5, 1}}) {
    CAPTURE(k.scale);
    const int64_t nx = k.n * k.c * k.h * k.w, ny = nx * k.scale * k.scale;
    const std::vector<float> x = test::cast<float>(test::random_vector(nx, rng)),
                             gy = test::cast<float>(test::random_vector(ny, rng));
    std::vector<float> y(static_cast<size_t>(ny)), gx(static_cast<size_t>(nx));
    kernels::cpu::upsample_nearest2d_forward<float>(k.n, k.c, k.h, k.w, k.scale, x.data(), y.data());
    kernels::cpu::upsample_nearest2d_backward<float>(k.n, k.c, k.h, k.w, k.scale, gy.data(), gx.data());
    const test::DeviceBuffer<float> dx(x), dgy(gy);
    auto dy = test::DeviceBuffer<float>::poisoned(ny);
    auto dgx = test::DeviceBuffer<float>::poisoned(nx);
    dev::upsample_nearest2d_forward<float>(k.n, k.c, k.h, k.w, k.scale, dx.get(), dy.get());
    dev::upsample_nearest2d_backward<float>(k.n, k.c, k.h, k.w, k.scale, dgy.get(), dgx.get());
    CHECK(dy.download() == y);
    CHECK(dgx.download() == gx);
  }
  CHECK_THROWS_AS(dev::upsample_nearest2d_forward<float>(1, 1, 2, 2, 0, nullptr, nullptr), Error);
}
