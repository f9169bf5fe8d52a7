// CUDA storage, copies and the fill kernel against the CPU.
#include <doctest/doctest.h>

#include <limits>

#include "core/ops.h"

using namespace ssl;

TEST_CASE("host → device → host round trip keeps every value") {
  Generator gen(5);
  Tensor x = Tensor::normal({1000, 37}, 0, 1, gen);
  Tensor back = x.to(Device::cuda()).to(Device::cpu());
  CHECK(back.to_vector<float>() == x.to_vector<float>());
}

TEST_CASE("the CUDA fill kernel writes every element, as the CPU fill does") {
  for (int64_t n : {1, 255, 256, 100003}) {
    Tensor gpu = Tensor::empty({n}, DType::f32, Device::cuda());
    gpu.fill_(std::numeric_limits<double>::quiet_NaN());  // poison first
    gpu.fill_(1.5);
    Tensor cpu = Tensor::full({n}, 1.5);
    CHECK(gpu.to(Device::cpu()).to_vector<float>() == cpu.to_vector<float>());
  }
}
