// The CUDA nearest upsampling against the CPU twin: forward copies exactly, backward sums each block in the
// CPU's order (bit for bit), in float and double.
#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "kernels/cuda/upsample.h"
#include "kernels/upsample.h"
#include "support/device_buffer.h"
#include "support/kernel_check.h"

using namespace ssl;
namespace dev = ssl::kernels::SSL_CUDA_NS;

namespace {

struct Case {
  int64_t n, c, h, w, scale;
};

template <class T>
void check_upsample(const Case& k, std::mt19937_64& rng) {
  CAPTURE(k.scale);
  CAPTURE(k.h);
  const int64_t nx = k.n * k.c * k.h * k.w, ny = nx * k.scale * k.scale;
  const std::vector<T> x = test::cast<T>(test::random_vector(nx, rng)),
                       gy = test::cast<T>(test::random_vector(ny, rng));
  std::vector<T> y(static_cast<size_t>(ny)), gx(static_cast<size_t>(nx));
  kernels::cpu::upsample_nearest2d_forward<T>(k.n, k.c, k.h, k.w, k.scale, x.data(), y.data());
  kernels::cpu::upsample_nearest2d_backward<T>(k.n, k.c, k.h, k.w, k.scale, gy.data(), gx.data());
  const test::DeviceBuffer<T> dx(x), dgy(gy);
  auto dy = test::DeviceBuffer<T>::poisoned(ny);
  auto dgx = test::DeviceBuffer<T>::poisoned(nx);
  dev::upsample_nearest2d_forward<T>(k.n, k.c, k.h, k.w, k.scale, dx.get(), dy.get());
  dev::upsample_nearest2d_backward<T>(k.n, k.c, k.h, k.w, k.scale, dgy.get(), dgx.get());
  CHECK(dy.download() == y);
  CHECK(dgx.download() == gx);
}

}  // namespace

TEST_CASE("upsample CUDA: nearest forward and backward match the CPU twin") {
  std::mt19937_64 rng(3);
  // `large`: 594 inputs, so backward (a thread per input) runs several 256-thread blocks, the last partial.
  const Case large{2, 3, 9, 11, 2};
  for (const Case& k : {Case{2, 3, 5, 7, 2}, Case{1, 2, 3, 4, 3}, Case{1, 1, 4, 5, 1}, large})
    check_upsample<float>(k, rng);
  check_upsample<double>(large, rng);
  CHECK_THROWS_AS(dev::upsample_nearest2d_forward<float>(1, 1, 2, 2, 0, nullptr, nullptr), Error);
}
