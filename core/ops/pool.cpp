// Pooling on NCHW tensors: max (gradient to the argmax), average and adaptive average.
#include "kernels/cuda/pool.h"
#include "core/ops.h"
#include "core/ops/op_helpers.h"
#include "kernels/pool.h"

namespace ssl {

namespace {
kernels::Pool2dShape pool_shape(const char* op, const Tensor& x, int64_t kernel, int64_t stride,
                                int64_t padding) {
  SSL_CHECK(x.dim() == 4, op, ": expected x [N, C, H, W], got ", x.shape());
  if (stride == 0) stride = kernel;
  SSL_CHECK(kernel >= 1 && stride >= 1 && padding >= 0 && 2 * padding <= kernel &&
                kernel <= kernels::kMaxWindowArgument && stride <= kernels::kMaxWindowArgument,
            op, ": kernel ", kernel, ", stride ", stride, ", padding ", padding,
            " (padding must be at most half the kernel; kernel and stride at most ",
            kernels::kMaxWindowArgument, ")");
  kernels::Pool2dShape s{x.size(0), x.size(1), x.size(2), x.size(3), kernel,
                         kernel,    stride,    stride,    padding,   padding};
  SSL_CHECK(s.out_h() >= 1 && s.out_w() >= 1, op, ": a ", kernel, "x", kernel, " window does not fit input ",
            x.shape());
  return s;
}
}  // namespace

// d max_pool2d: each output's gradient goes to the input it picked
Tensor max_pool2d(const Tensor& x_in, int64_t kernel, int64_t stride, int64_t padding) {
  detail::check_inputs("max_pool2d", {x_in});
  const kernels::Pool2dShape s = pool_shape("max_pool2d", x_in, kernel, stride, padding);
  const Tensor x = x_in.detach().contiguous();
  Tensor y = Tensor::empty({s.n, s.c, s.out_h(), s.out_w()}, x.dtype(), x.device());
  Tensor argmax = Tensor::empty(y.shape(), DType::i64, x.device());
  dispatch_floating(x.dtype(), "max_pool2d", [&]<class T>() {
    int64_t* at = argmax.data<int64_t>();
    detail::on_device(
        x.device(), [&] { kernels::cpu::max_pool2d_forward<T>(s, x.data<T>(), y.data<T>(), at); },
        [&] { kernels::cuda::max_pool2d_forward<T>(s, x.data<T>(), y.data<T>(), at); });
  });
  return record("max_pool2d", y, {x_in},
                [s, argmax, in_shape = x.shape()](const Tensor& g_in, const std::vector<bool>&) {
                  const Tensor g = g_in.contiguous();
                  Tensor gx = Tensor::empty(in_shape, g.dtype(), g.device());
                  dispatch_floating(g.dtype(), "max_pool2d_backward", [&]<class T>() {
                    const int64_t* at = argmax.data<int64_t>();
                    detail::on_device(
                        g.device(),
                        [&] { kernels::cpu::max_pool2d_backward<T>(s, g.data<T>(), at, gx.data<T>()); },
                        [&] { kernels::cuda::max_pool2d_backward<T>(s, g.data<T>(), at, gx.data<T>()); });
                  });
                  return std::vector{gx};
                });
}

// d avg_pool2d: each output's gradient is shared equally by its window
Tensor avg_pool2d(const Tensor& x_in, int64_t kernel, int64_t stride, int64_t padding) {
  detail::check_inputs("avg_pool2d", {x_in});
  const kernels::Pool2dShape s = pool_shape("avg_pool2d", x_in, kernel, stride, padding);
  const Tensor x = x_in.detach().contiguous();
  Tensor y = Tensor::empty({s.n, s.c, s.out_h(), s.out_w()}, x.dtype(), x.device());
  dispatch_floating(x.dtype(), "avg_pool2d", [&]<class T>() {
    detail::on_device(
        x.device(), [&] { kernels::cpu::avg_pool2d_forward<T>(s, x.data<T>(), y.data<T>()); },
        [&] { kernels::cuda::avg_pool2d_forward<T>(s, x.data<T>(), y.data<T>()); });
  });
  return record(
      "avg_pool2d", y, {x_in}, [s, in_shape = x.shape()](const Tensor& g_in, const std::vector<bool>&) {
        const Tensor g = g_in.contiguous();
        Tensor gx = Tensor::empty(in_shape, g.dtype(), g.device());
        dispatch_floating(g.dtype(), "avg_pool2d_backward", [&]<class T>() {
          detail::on_device(
              g.device(), [&] { kernels::cpu::avg_pool2d_backward<T>(s, g.data<T>(), gx.data<T>()); },
              [&] { kernels::cuda::avg_pool2d_backward<T>(s, g.data<T>(), gx.data<T>()); });
        });
        return std::vector{gx};
      });
}

// d adaptive_avg_pool2d: as avg_pool2d, with PyTorch's (possibly overlapping) bins
Tensor adaptive_avg_pool2d(const Tensor& x_in, int64_t out_h, int64_t out_w) {
  detail::check_inputs("adaptive_avg_pool2d", {x_in});
  SSL_CHECK(x_in.dim() == 4 && out_h >= 1 && out_w >= 1,
            "adaptive_avg_pool2d: expected x [N, C, H, W] and an output ", "size >= 1, got ", x_in.shape(),
            " and ", out_h, "x", out_w);
  const Tensor x = x_in.detach().contiguous();
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  Tensor y = Tensor::empty({n, c, out_h, out_w}, x.dtype(), x.device());
  dispatch_floating(x.dtype(), "adaptive_avg_pool2d", [&]<class T>() {
    detail::on_device(
        x.device(),
        [&] {
          kernels::cpu::adaptive_avg_pool2d_forward<T>(n, c, h, w, out_h, out_w, x.data<T>(), y.data<T>());
        },
        [&] {
          kernels::cuda::adaptive_avg_pool2d_forward<T>(n, c, h, w, out_h, out_w, x.data<T>(), y.data<T>());
        });
  });
  return record("adaptive_avg_pool2d", y, {x_in}, [=](const Tensor& g_in, const std::vector<bool>&) {
    const Tensor g = g_in.contiguous();
    Tensor gx = Tensor::empty({n, c, h, w}, g.dtype(), g.device());
    dispatch_floating(g.dtype(), "adaptive_avg_pool2d_backward", [&]<class T>() {
      detail::on_device(
          g.device(),
          [&] {
            kernels::cpu::adaptive_avg_pool2d_backward<T>(n, c, h, w, out_h, out_w, g.data<T>(),
                                                          gx.data<T>());
          },
          [&] {
            kernels::cuda::adaptive_avg_pool2d_backward<T>(n, c, h, w, out_h, out_w, g.data<T>(),
                                                           gx.data<T>());
          });
    });
    return std::vector{gx};
  });
}

}  // namespace ssl
