// cuBLAS GEMM and cuDNN convolutions against the CPU kernels, and the op layer's CUDA matmul/linear.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "core/ops.h"
#include "kernels/conv.h"
#include "kernels/conv_transpose.h"
#include "kernels/cuda/library.h"
#include "kernels/device_memory.h"
#include "kernels/gemm.h"
#include "support/conv_reference.h"
#include "support/device_buffer.h"
#include "support/kernel_check.h"

using namespace ssl;

namespace {

Tensor random_on_cpu(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return Tensor::uniform(shape, -1, 1, gen);
}

std::vector<double> as_doubles(const Tensor& t) { return t.to_vector<double>(); }

// n values uniform in (-1, 1), rounded to T: on the device, and as doubles for a CPU reference in double.
template <class T>
struct RandomData {
  std::vector<double> host;
  test::DeviceBuffer<T> device;
};
template <class T>
RandomData<T> random_data(int64_t n, std::mt19937_64& rng) {
  const std::vector<T> v = test::cast<T>(test::random_vector(n, rng));
  return {test::cast<double>(v), test::DeviceBuffer<T>(v)};
}

// Against a reference in double on the same values: the float sums here (up to ~100 terms below 1) round to
// ~1e-6, the double ones to ~1e-14.
template <class T>
constexpr double kTol = std::is_same_v<T, float> ? 1e-4 : 1e-11;

// cuDNN's convolution, or transposed convolution (by the shape's type), against the CPU kernel in double:
// forward with and without bias, backward (gx, gw, gb). Every output is poisoned with NaN before the call, so
// an element the library leaves unwritten fails.
template <class T, class S>
void check_cudnn_against_cpu(const S& s, const std::string& what) {
  CAPTURE(what);
  std::mt19937_64 rng(uint64_t(s.n * 1000 + s.h * 10 + s.groups));
  const int64_t nx = test::x_count(s), ny = test::y_count(s), nw = test::w_count(s);
  const auto x = random_data<T>(nx, rng), w = random_data<T>(nw, rng), b = random_data<T>(s.c_out, rng),
             gy = random_data<T>(ny, rng);
  std::vector<double> y(ny), y0(ny), gx(nx), gw(nw), gb(s.c_out);  // the reference; y0 without bias
  const auto dy = test::DeviceBuffer<T>::poisoned(ny), dy0 = test::DeviceBuffer<T>::poisoned(ny),
             dgx = test::DeviceBuffer<T>::poisoned(nx), dgw = test::DeviceBuffer<T>::poisoned(nw),
             dgb = test::DeviceBuffer<T>::poisoned(s.c_out);
  const double *xh = x.host.data(), *wh = w.host.data(), *bh = b.host.data(), *gyh = gy.host.data();
  const T *xd = x.device.get(), *wd = w.device.get(), *bd = b.device.get(), *gyd = gy.device.get();
  if constexpr (std::is_same_v<S, kernels::ConvTranspose2dShape>) {
    kernels::cpu::conv_transpose2d_forward<double>(s, xh, wh, bh, y.data());
    kernels::cpu::conv_transpose2d_forward<double>(s, xh, wh, nullptr, y0.data());
    kernels::cpu::conv_transpose2d_backward<double>(s, xh, wh, gyh, gx.data(), gw.data(), gb.data());
    kernels::cuda::conv_transpose2d_forward<T>(s, xd, wd, bd, dy.get());
    kernels::cuda::conv_transpose2d_forward<T>(s, xd, wd, nullptr, dy0.get());
    kernels::cuda::conv_transpose2d_backward<T>(s, xd, wd, gyd, dgx.get(), dgw.get(), dgb.get());
  } else {
    kernels::cpu::conv2d_forward<double>(s, xh, wh, bh, y.data());
    kernels::cpu::conv2d_forward<double>(s, xh, wh, nullptr, y0.data());
    kernels::cpu::conv2d_backward<double>(s, xh, wh, gyh, gx.data(), gw.data(), gb.data());
    kernels::cuda::conv2d_forward<T>(s, xd, wd, bd, dy.get());
    kernels::cuda::conv2d_forward<T>(s, xd, wd, nullptr, dy0.get());
    kernels::cuda::conv2d_backward<T>(s, xd, wd, gyd, dgx.get(), dgw.get(), dgb.get());
  }
  test::check_close(dy.download(), y, kTol<T>, kTol<T>, what + " forward");
  test::check_close(dy0.download(), y0, kTol<T>, kTol<T>, what + " forward without bias");
  test::check_close(dgx.download(), gx, kTol<T>, kTol<T>, what + " grad x");
  test::check_close(dgw.download(), gw, kTol<T>, kTol<T>, what + " grad w");
  test::check_close(dgb.download(), gb, kTol<T>, kTol<T>, what + " grad bias");
}

// cuBLAS gemm against the CPU gemm in double, for every transpose combination, with rows stored padded
// (lda, ldb beyond the row length) and beta 0.5 (C read) or 0 (C poisoned: cuBLAS must write every element
// without reading one).
template <class T>
void check_gemm() {
  std::mt19937_64 rng(12);
  const int64_t m = 37, n = 53, k = 29;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (double beta : {0.5, 0.0}) {
        CAPTURE(ta);
        CAPTURE(tb);
        CAPTURE(beta);
        const int64_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2;
        const auto a = random_data<T>((ta ? k : m) * lda, rng), b = random_data<T>((tb ? n : k) * ldb, rng),
                   c = random_data<T>(m * n, rng);
        const auto poisoned = test::DeviceBuffer<T>::poisoned(m * n);
        const test::DeviceBuffer<T>& dc = beta == 0 ? poisoned : c.device;
        std::vector<double> want = c.host;
        kernels::cpu::gemm<double>(ta, tb, m, n, k, 1.5, a.host.data(), lda, b.host.data(), ldb, beta,
                                   want.data(), n);
        kernels::cuda::gemm<T>(ta, tb, m, n, k, T(1.5), a.device.get(), lda, b.device.get(), ldb, T(beta),
                               dc.get(), n);
        test::check_close(dc.download(), want, kTol<T>, kTol<T>, "gemm");
      }
}

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

TEST_CASE("cuBLAS gemm in float and double equals the CPU gemm, with padded rows and a poisoned C") {
  check_gemm<float>();
  check_gemm<double>();
}

TEST_CASE("cuDNN convolution in float and double, rectangular kernel and unequal strides, equals the CPU") {
  for (int64_t groups : {1, 2}) {
    // n, c_in, h, w, c_out, kh, kw, stride_h, stride_w, pad_h, pad_w, groups
    const kernels::Conv2dShape s{2, 4, 11, 8, 6, 3, 2, 2, 1, 1, 0, groups};
    check_cudnn_against_cpu<float>(s, "conv2d<float> groups " + std::to_string(groups));
    check_cudnn_against_cpu<double>(s, "conv2d<double> groups " + std::to_string(groups));
  }
}

TEST_CASE("cuDNN transposed convolution forward and backward equal the CPU transposed convolution") {
  // n, c_in, h, w, c_out, kh, kw, stride_h, stride_w, pad_h, pad_w, out_pad_h, out_pad_w, groups
  const std::pair<std::string, kernels::ConvTranspose2dShape> cases[] = {
      {"4x4 stride 2 pad 1 (DCGAN)", {2, 5, 4, 3, 3, 4, 4, 2, 2, 1, 1, 0, 0, 1}},
      {"4x3 stride 2x3 pad 1 output_padding 1x2", {3, 4, 5, 6, 6, 4, 3, 2, 3, 1, 1, 1, 2, 1}},
      {"3x3 stride 2 pad 1 output_padding 1 groups 2", {2, 4, 7, 5, 6, 3, 3, 2, 2, 1, 1, 1, 1, 2}}};
  for (const auto& [name, s] : cases) {
    check_cudnn_against_cpu<float>(s, "conv_transpose2d<float> " + name);
    check_cudnn_against_cpu<double>(s, "conv_transpose2d<double> " + name);
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
