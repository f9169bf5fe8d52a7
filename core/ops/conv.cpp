// 2-D convolution (cross-correlation, as every framework means it) on NCHW tensors.
#include "kernels/conv.h"
#include "core/ops.h"
#include "core/ops/op_helpers.h"
#include "kernels/cuda/depthwise.h"
#include "kernels/cuda/library.h"
#include "kernels/depthwise.h"

namespace ssl {

namespace detail {

kernels::Conv2dShape conv2d_shape(const Tensor& x, const Tensor& w, const Tensor& bias, Conv2dArgs a) {
  check_inputs("conv2d", {x, w});
  check_same_dtype("conv2d", x, w);
  SSL_CHECK(x.dim() == 4 && w.dim() == 4, "conv2d: expected x [N, C, H, W] and w [O, C/groups, kH, kW], got ",
            x.shape(), " and ", w.shape());
  SSL_CHECK(a.groups >= 1 && x.size(1) % a.groups == 0 && w.size(0) % a.groups == 0 &&
                w.size(1) * a.groups == x.size(1),
            "conv2d: input ", x.shape(), " and weight ", w.shape(), " do not match with groups = ", a.groups);
  SSL_CHECK(a.stride >= 1 && a.padding >= 0 && a.stride <= kernels::kMaxWindowArgument &&
                a.padding <= kernels::kMaxWindowArgument,
            "conv2d: stride ", a.stride, " and padding ", a.padding, " must be >= 1 and >= 0, and at most ",
            kernels::kMaxWindowArgument);
  if (bias.defined()) {
    check_inputs("conv2d", {x, bias});
    check_same_dtype("conv2d", x, bias);
    SSL_CHECK(bias.dim() == 1 && bias.size(0) == w.size(0), "conv2d: bias of shape ", bias.shape(), " for ",
              w.size(0), " output channels");
  }
  kernels::Conv2dShape s{x.size(0), x.size(1), x.size(2), x.size(3), w.size(0), w.size(2), w.size(3)};
  s.stride_h = s.stride_w = a.stride;
  s.pad_h = s.pad_w = a.padding;
  s.groups = a.groups;
  SSL_CHECK(s.out_h() >= 1 && s.out_w() >= 1, "conv2d: a ", s.kh, "x", s.kw, " kernel with padding ",
            a.padding, " does not fit input ", x.shape());
  return s;
}

// d conv2d: gx = the transposed convolution of g with w, gw = the correlation of x with g, gb = Σ g
Tensor conv2d(const Tensor& x_in, const Tensor& w_in, const Tensor& bias_in, Conv2dArgs a,
              std::vector<double>* moments) {
  const kernels::Conv2dShape s = conv2d_shape(x_in, w_in, bias_in, a);
  SSL_CHECK(!moments || x_in.device().is_cpu(), "conv2d: per-plane moments are recorded on the CPU only");
  const Tensor x = x_in.detach().contiguous(), w = w_in.detach().contiguous();
  const Tensor bias = bias_in.defined() ? bias_in.detach().contiguous() : Tensor();
  // Depthwise (groups == c_in == c_out) has its own direct kernel: im2col + GEMM would move kh*kw times the
  // input through memory for kh*kw multiply-adds per output.
  const bool depthwise = s.is_depthwise();
  Tensor y = Tensor::empty({s.n, s.c_out, s.out_h(), s.out_w()}, x.dtype(), x.device());
  if (moments) moments->resize(2 * s.n * s.c_out);
  dispatch_floating(x.dtype(), "conv2d", [&]<class T>() {
    const T* b = ptr_or_null<T>(bias);
    double* m = moments ? moments->data() : nullptr;
    on_device(
        x.device(),
        [&] {
          if (depthwise)
            kernels::cpu::depthwise_conv2d_forward<T>(s, x.data<T>(), w.data<T>(), b, y.data<T>(), m);
          else
            kernels::cpu::conv2d_forward<T>(s, x.data<T>(), w.data<T>(), b, y.data<T>(), m);
        },
        [&] {  // the hand-written depthwise kernel; cuDNN for the others
          if (depthwise)
            kernels::cuda::depthwise_conv2d_forward<T>(s, x.data<T>(), w.data<T>(), b, y.data<T>());
          else
            kernels::cuda::conv2d_forward<T>(s, x.data<T>(), w.data<T>(), b, y.data<T>());
        });
  });
  return record(
      "conv2d", y, {x_in, w_in, bias_in}, {x, w},
      [s, x, w, depthwise](const Tensor& g_in, const std::vector<bool>& needs) {
        const Tensor g = g_in.contiguous();
        std::vector<Tensor> grads = gradient_buffers(x, {x.shape(), w.shape(), {s.c_out}}, needs);
        Tensor &gx = grads[0], &gw = grads[1], &gb = grads[2];
        dispatch_floating(g.dtype(), "conv2d_backward", [&]<class T>() {
          T *gxp = ptr_or_null<T>(gx), *gwp = ptr_or_null<T>(gw), *gbp = ptr_or_null<T>(gb);
          detail::on_device(
              g.device(),
              [&] {
                if (depthwise)
                  kernels::cpu::depthwise_conv2d_backward<T>(s, x.data<T>(), w.data<T>(), g.data<T>(), gxp,
                                                             gwp, gbp);
                else
                  kernels::cpu::conv2d_backward<T>(s, x.data<T>(), w.data<T>(), g.data<T>(), gxp, gwp, gbp);
              },
              [&] {
                if (depthwise)
                  kernels::cuda::depthwise_conv2d_backward<T>(s, x.data<T>(), w.data<T>(), g.data<T>(), gxp,
                                                              gwp, gbp);
                else
                  kernels::cuda::conv2d_backward<T>(s, x.data<T>(), w.data<T>(), g.data<T>(), gxp, gwp, gbp);
              });
        });
        return grads;
      });
}

}  // namespace detail

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, Conv2dArgs a) {
  return detail::conv2d(x, w, bias, a, nullptr);
}

}  // namespace ssl
