// 2-D transposed convolution on NCHW tensors (PyTorch's conv_transpose2d and weight layout).
#include "kernels/conv_transpose.h"
#include "core/ops/op_helpers.h"
#include "core/ops_nn.h"
#include "kernels/cuda/library.h"

namespace ssl {

// d conv_transpose2d: gx = the ordinary convolution of g with w, gw = the correlation of x with g, gb = Σ g
Tensor conv_transpose2d(const Tensor& x_in, const Tensor& w_in, const Tensor& bias_in,
                        ConvTranspose2dArgs a) {
  detail::check_inputs("conv_transpose2d", {x_in, w_in});
  detail::check_same_dtype("conv_transpose2d", x_in, w_in);
  SSL_CHECK(x_in.dim() == 4 && w_in.dim() == 4,
            "conv_transpose2d: expected x [N, C_in, H, W] and w [C_in, C_out/groups, kH, kW], got ",
            x_in.shape(), " and ", w_in.shape());
  SSL_CHECK(a.groups >= 1 && x_in.size(1) == w_in.size(0) && w_in.size(0) % a.groups == 0,
            "conv_transpose2d: input ", x_in.shape(), " and weight ", w_in.shape(),
            " do not match with groups = ", a.groups, " (the weight's first dim must be C_in)");
  SSL_CHECK(a.stride >= 1 && a.padding >= 0 && a.output_padding >= 0 && a.output_padding < a.stride &&
                a.stride <= kernels::kMaxWindowArgument && a.padding <= kernels::kMaxWindowArgument,
            "conv_transpose2d: stride ", a.stride, ", padding ", a.padding, ", output_padding ",
            a.output_padding, " (need 1 <= stride <= ", kernels::kMaxWindowArgument,
            ", 0 <= padding <= ", kernels::kMaxWindowArgument, ", 0 <= output_padding < stride)");
  const int64_t c_out = w_in.size(1) * a.groups;
  if (bias_in.defined()) {
    detail::check_inputs("conv_transpose2d", {x_in, bias_in});
    detail::check_same_dtype("conv_transpose2d", x_in, bias_in);
    SSL_CHECK(bias_in.dim() == 1 && bias_in.size(0) == c_out, "conv_transpose2d: bias of shape ",
              bias_in.shape(), " for ", c_out, " output channels");
  }
  kernels::ConvTranspose2dShape s{x_in.size(0), x_in.size(1), x_in.size(2), x_in.size(3),
                                  c_out,        w_in.size(2), w_in.size(3)};
  s.stride_h = s.stride_w = a.stride;
  s.pad_h = s.pad_w = a.padding;
  s.out_pad_h = s.out_pad_w = a.output_padding;
  s.groups = a.groups;
  SSL_CHECK(s.out_h() >= 1 && s.out_w() >= 1, "conv_transpose2d: padding ", a.padding,
            " leaves no output for input ", x_in.shape(), " and weight ", w_in.shape());

  const Tensor x = x_in.detach().contiguous(), w = w_in.detach().contiguous();
  const Tensor bias = bias_in.defined() ? bias_in.detach().contiguous() : Tensor();
  Tensor y = Tensor::empty({s.n, s.c_out, s.out_h(), s.out_w()}, x.dtype(), x.device());
  dispatch_floating(x.dtype(), "conv_transpose2d", [&]<class T>() {
    const T* b = bias.defined() ? bias.data<T>() : nullptr;
    detail::on_device(
        x.device(),
        [&] { kernels::cpu::conv_transpose2d_forward<T>(s, x.data<T>(), w.data<T>(), b, y.data<T>()); },
        [&] { kernels::cuda::conv_transpose2d_forward<T>(s, x.data<T>(), w.data<T>(), b, y.data<T>()); });
  });
  return record(
      "conv_transpose2d", y, {x_in, w_in, bias_in}, {x, w},
      [s, x, w](const Tensor& g_in, const std::vector<bool>& needs) {
        const Tensor g = g_in.contiguous();
        std::vector<Tensor> grads = detail::gradient_buffers(x, {x.shape(), w.shape(), {s.c_out}}, needs);
        Tensor &gx = grads[0], &gw = grads[1], &gb = grads[2];
        dispatch_floating(g.dtype(), "conv_transpose2d_backward", [&]<class T>() {
          T *gxp = detail::ptr_or_null<T>(gx), *gwp = detail::ptr_or_null<T>(gw),
            *gbp = detail::ptr_or_null<T>(gb);
          detail::on_device(
              g.device(),
              [&] {
                kernels::cpu::conv_transpose2d_backward<T>(s, x.data<T>(), w.data<T>(), g.data<T>(), gxp, gwp,
                                                           gbp);
              },
              [&] {
                kernels::cuda::conv_transpose2d_backward<T>(s, x.data<T>(), w.data<T>(), g.data<T>(), gxp,
                                                            gwp, gbp);
              });
        });
        return grads;
      });
}

}  // namespace ssl
