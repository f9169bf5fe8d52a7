// The fill kernel against the CPU fill.
#include <doctest/doctest.h>

#include "kernels/cuda_kernels.h"
#include "kernels/elementwise.h"
#include "support/device_buffer.h"
#include "support/kernel_check.h"

using namespace ssl;
namespace dev = ssl::kernels::SSL_CUDA_NS;

TEST_CASE("fill writes every element, as the CPU fill does") {
  for (int64_t n : {1, 255, 256, 257, 100003}) {
    test::DeviceBuffer<float> out = test::DeviceBuffer<float>::poisoned(n);
    dev::fill<float>(out.get(), n, 1.5f);
    std::vector<float> want(n, -1.0f);
    const int64_t stride = 1;
    kernels::cpu::fill<float>(1, &n, {want.data(), &stride}, 1.5f);
    CHECK(out.download() == want);
  }
}
