// cuBLAS GEMM and cuDNN convolutions against the CPU kernels, and the op layer's CUDA matmul/linear.
#include <doctest/doctest.h>

#include <random>

#include "core/ops.h"
#include "kernels/conv.h"
#include "kernels/cuda/library.h"
#include "kernels/device_memory.h"
#include "kernels/gemm.h"
#include "support/kernel_check.h"

using namespace ssl;

namespace {

Tensor random_on_cpu(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return Tensor::uniform(shape, -1, 1, gen);
}

std::vector<double> as_doubles(const Tensor& t) { return t.to_vector<double>(); }

}  // namespace

TEST_CASE("cuBLAS gemm equals the CPU gemm for every transpose combination") {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const int64_t m = 37, n = 53, k = 29;
      const Tensor a = random_on_cpu(ta ? Shape{k, m} : Shape{m, k}, 1);
      const Tensor b = random_on_cpu(tb ? Shape{n, k} : Shape{k, n}, 2);
      const Tensor c0 = random_on_cpu({m, n}, 3);
      Tensor want = c0.clone();
      kernels::cpu::gemm<float>(ta, tb, m, n, k, 1.5f, a.data<float>(), a.size(1), b.data<float>(), b.size(1),
                                0.5f, want.data<float>(), n);
      const Tensor ga = a.to(Device::cuda()), gb = b.to(Device::cuda());
      Tensor gc = c0.to(Device::cuda());
      kernels::cuda::gemm<float>(ta, tb, m, n, k, 1.5f, ga.data<float>(), a.size(1), gb.data<float>(),
                                 b.size(1), 0.5f, gc.data<float>(), n);
      test::check_close(gc.to_vector<float>(), as_doubles(want), 1e-4, 1e-4, "gemm");
    }
}

TEST_CASE("cuDNN convolution forward and backward equal the CPU convolution") {
  for (int64_t groups : {1, 2}) {
    kernels::Conv2dShape s{3, 4, 9, 7, 6, 3, 3};
    s.stride_h = 2;
    s.pad_h = s.pad_w = 1;
    s.groups = groups;
    const Tensor x = random_on_cpu({s.n, s.c_in, s.h, s.w}, 4);
    const Tensor w = random_on_cpu({s.c_out, s.c_in / groups, s.kh, s.kw}, 5);
    const Tensor bias = random_on_cpu({s.c_out}, 6);
    const Tensor gy = random_on_cpu({s.n, s.c_out, s.out_h(), s.out_w()}, 7);
    Tensor y = Tensor::empty(gy.shape()), gx = Tensor::empty(x.shape()), gw = Tensor::empty(w.shape()),
           gb = Tensor::empty({s.c_out});
    kernels::cpu::conv2d_forward<float>(s, x.data<float>(), w.data<float>(), bias.data<float>(),
                                        y.data<float>());
    kernels::cpu::conv2d_backward<float>(s, x.data<float>(), w.data<float>(), gy.data<float>(),
                                         gx.data<float>(), gw.data<float>(), gb.data<float>());
    const Device d = Device::cuda();
    const Tensor dx = x.to(d), dw = w.to(d), db = bias.to(d), dgy = gy.to(d);
    Tensor dy = Tensor::full(y.shape(), NAN, DType::f32, d),
           dgx = Tensor::full(x.shape(), NAN, DType::f32, d),
           dgw = Tensor::full(w.shape(), NAN, DType::f32, d),
           dgb = Tensor::full({s.c_out}, NAN, DType::f32, d);
    kernels::cuda::conv2d_forward<float>(s, dx.data<float>(), dw.data<float>(), db.data<float>(),
                                         dy.data<float>());
    kernels::cuda::conv2d_backward<float>(s, dx.data<float>(), dw.data<float>(), dgy.data<float>(),
                                          dgx.data<float>(), dgw.data<float>(), dgb.data<float>());
    test::check_close(dy.to_vector<float>(), as_doubles(y), 1e-4, 1e-4, "conv forward");
    test::check_close(dgx.to_vector<float>(), as_doubles(gx), 1e-4, 1e-4, "conv grad x");
    test::check_close(dgw.to_vector<float>(), as_doubles(gw), 1e-4, 1e-4, "conv grad w");
    test::check_close(dgb.to_vector<float>(), as_doubles(gb), 1e-4, 1e-4, "conv grad bias");
  }
}

TEST_CASE("linear on CUDA (bias rows by a rank-one GEMM) equals linear on the CPU") {
  const Tensor x = random_on_cpu({17, 12}, 8), w = random_on_cpu({5, 12}, 9), b = random_on_cpu({5}, 10);
  const Tensor want = linear(x, w, b);
  const Tensor got = linear(x.to(Device::cuda()), w.to(Device::cuda()), b.to(Device::cuda()));
  CHECK(got.device() == Device::cuda());
  test::check_close(got.to_vector<float>(), as_doubles(want), 1e-5, 1e-5, "linear");
}

TEST_CASE("Tensor::to_ moves a parameter in place; the caching allocator reuses freed blocks") {
  Tensor p = random_on_cpu({64, 64}, 11).set_requires_grad();
  const std::vector<float> values = p.to_vector<float>();
  Tensor alias = p;
  p.to_(Device::cuda());
  CHECK(alias.device() == Device::cuda());
  CHECK(alias.to_vector<float>() == values);
  const size_t before = kernels::cuda::device_bytes_reserved(0);
  for (int i = 0; i < 10; ++i) Tensor::empty({1024, 1024}, DType::f32, Device::cuda());
  CHECK(kernels::cuda::device_bytes_reserved(0) <= before + (size_t(4) << 20) + (size_t(2) << 20));
}
