// 2-D convolution (cross-correlation, as every framework means it) on NCHW tensors.
#include "kernels/conv.h"
#include "core/ops.h"
#include "core/ops/op_helpers.h"
#include "kernels/cuda/depthwise.h"
#include "kernels/cuda/library.h"
#include "kernels/depthwise.h"

namespace ssl {

namespace detail {

// d conv2d: gx = the transposed convolution of g with w, gw = the correlation of x with g, gb = Σ g
Tensor conv2d(const Tensor& x_in, const Tensor& w_in, const Tensor& bias_in, Conv2dArgs a,
              std::vector<double>* moments) {
  detail::check_inputs("conv2d", {x_in, w_in}, /*cuda_ok=*/true);
  detail::check_same_dtype("conv2d", x_in, w_in);
  SSL_CHECK(x_in.dim() == 4 && w_in.dim() == 4,
            "conv2d: expected x [N, C, H, W] and w [O, C/groups, kH, kW], got ", x_in.shape(), " and ",
            w_in.shape());
  SSL_CHECK(a.groups >= 1 && x_in.size(1) % a.groups == 0 && w_in.size(0) % a.groups == 0 &&
                w_in.size(1) * a.groups == x_in.size(1),
            "conv2d: input ", x_in.shape(), " and weight ", w_in.shape(),
            " do not match with groups = ", a.groups);
  SSL_CHECK(a.stride >= 1 && a.padding >= 0, "conv2d: stride ", a.stride, " and padding ", a.padding,
            " must be >= 1 and >= 0");
  if (bias_in.defined()) {
    detail::check_inputs("conv2d", {x_in, bias_in}, /*cuda_ok=*/true);
    detail::check_same_dtype("conv2d", x_in, bias_in);
    SSL_CHECK(bias_in.dim() == 1 && bias_in.size(0) == w_in.size(0), "conv2d: bias of shape ",
              bias_in.shape(), " for ", w_in.size(0), " output channels");
  }
  kernels::Conv2dShape s{x_in.size(0), x_in.size(1), x_in.size(2), x_in.size(3),
                         w_in.size(0), w_in.size(2), w_in.size(3)};
  s.stride_h = s.stride_w = a.stride;
  s.pad_h = s.pad_w = a.padding;
  s.groups = a.groups;
  SSL_CHECK(s.out_h() >= 1 && s.out_w() >= 1, "conv2d: a ", s.kh, "x", s.kw, " kernel with padding ",
            a.padding, " does not fit input ", x_in.shape());

  const Tensor x = x_in.detach().contiguous(), w = w_in.detach().contiguous();
  const Tensor bias = bias_in.defined() ? bias_in.detach().contiguous() : Tensor();
  // Depthwise (groups == c_in == c_out) has its own direct kernel: im2col + GEMM would move kh*kw times the
  // input through memory for kh*kw multiply-adds per output.
  const bool depthwise = kernels::cpu::is_depthwise(s);
  Tensor y = Tensor::empty({s.n, s.c_out, s.out_h(), s.out_w()}, x.dtype(), x.device());
  SSL_CHECK(!moments || x.device().is_cpu(), "conv2d: per-plane moments are recorded on the CPU only");
  if (moments) moments->resize(2 * s.n * s.c_out);
  dispatch_floating(x.dtype(), "conv2d", [&]<class T>() {
    const T* b = bias.defined() ? bias.data<T>() : nullptr;
    detail::on_device(
        x.device(),
        [&] {
          if (moments && depthwise)
            kernels::cpu::depthwise_conv2d_forward_moments<T>(s, x.data<T>(), w.data<T>(), b, y.data<T>(),
                                                              moments->data());
          else if (moments)
            kernels::cpu::conv2d_forward_moments<T>(s, x.data<T>(), w.data<T>(), b, y.data<T>(),
                                                    moments->data());
          else if (depthwise)
            kernels::cpu::depthwise_conv2d_forward<T>(s, x.data<T>(), w.data<T>(), b, y.data<T>());
          else
            kernels::cpu::conv2d_forward<T>(s, x.data<T>(), w.data<T>(), b, y.data<T>());
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
