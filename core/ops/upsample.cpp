// Nearest-neighbour upsampling by an integer factor on NCHW tensors, and upsampling by 2 fused with a 3×3
// convolution.
#include "kernels/cuda/upsample.h"
#include "core/ops/op_helpers.h"
#include "core/ops_nn.h"
#include "kernels/common/window_count.h"
#include "kernels/upsample.h"

namespace ssl {

// d upsample_nearest2d: each input pixel receives the sum of its scale × scale block of g
Tensor upsample_nearest2d(const Tensor& x_in, int64_t scale) {
  detail::check_inputs("upsample_nearest2d", {x_in});
  SSL_CHECK(x_in.dim() == 4 && scale >= 1 && scale <= kernels::kMaxWindowArgument,
            "upsample_nearest2d: expected x [N, C, H, W] and a scale from 1 to ", kernels::kMaxWindowArgument,
            ", got ", x_in.shape(), " and ", scale);
  const Tensor x = x_in.detach().contiguous();
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  SSL_CHECK(n >= 1 && c >= 1 && h >= 1 && w >= 1, "upsample_nearest2d: empty input ", x.shape());
  Tensor y =
      Tensor::empty({n, c, kernels::saturated(__int128(h) * scale), kernels::saturated(__int128(w) * scale)},
                    x.dtype(), x.device());
  dispatch_floating(x.dtype(), "upsample_nearest2d", [&]<class T>() {
    detail::on_device(
        x.device(),
        [&] { kernels::cpu::upsample_nearest2d_forward<T>(n, c, h, w, scale, x.data<T>(), y.data<T>()); },
        [&] { kernels::cuda::upsample_nearest2d_forward<T>(n, c, h, w, scale, x.data<T>(), y.data<T>()); });
  });
  return record("upsample_nearest2d", y, {x_in}, [=](const Tensor& g_in, const std::vector<bool>&) {
    const Tensor g = g_in.contiguous();
    Tensor gx = Tensor::empty({n, c, h, w}, g.dtype(), g.device());
    dispatch_floating(g.dtype(), "upsample_nearest2d_backward", [&]<class T>() {
      detail::on_device(
          g.device(),
          [&] { kernels::cpu::upsample_nearest2d_backward<T>(n, c, h, w, scale, g.data<T>(), gx.data<T>()); },
          [&] {
            kernels::cuda::upsample_nearest2d_backward<T>(n, c, h, w, scale, g.data<T>(), gx.data<T>());
          });
    });
    return std::vector{gx};
  });
}

namespace {
// The 4×4 kernel [C_in, C_out, 4, 4] of the transposed convolution (stride 2, padding 1) that equals
// upsampling by 2, then convolving with w [C_out, C_in, 3, 3] (padding 1). Along one axis, output 2i reads
// upsampled rows 2i−1, 2i and 2i+1, that is input rows i−1 (through kernel row 0), i and i (rows 1 and 2);
// output 2i+1 reads input rows i, i (rows 0 and 1) and i+1 (row 2). The transposed convolution reaches output
// o from input row i through its tap o + 1 − 2i, so its taps 0..3 are (w2, w1 + w2, w0 + w1, w0): w times
// the matrix `taps` along each axis.
Tensor upsample_conv_kernel(const Tensor& w) {
  const int64_t c_out = w.size(0), c_in = w.size(1);
  // [3, 4]: row r marks the taps that kernel row r feeds; column k, the kernel rows that tap k adds up.
  const Tensor taps =
      Tensor::from_vector<float>({0, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 0}, {3, 4}, w.device()).to(w.dtype());
  const Tensor along_x = matmul(w.reshape({c_out * c_in * 3, 3}), taps);  // [(o, i, y), x']
  const Tensor y_last = along_x.reshape({c_out * c_in, 3, 4}).transpose(1, 2).contiguous();
  const Tensor both = matmul(y_last.reshape({c_out * c_in * 4, 3}), taps);  // [(o, i, x'), y']
  return both.reshape({c_out, c_in, 4, 4}).permute({1, 0, 3, 2}).contiguous();
}
}  // namespace

Tensor upsample_conv2d(const Tensor& x, const Tensor& w, const Tensor& bias) {
  SSL_CHECK(x.defined() && w.defined() && x.dim() == 4 && w.dim() == 4 && w.size(2) == 3 && w.size(3) == 3 &&
                x.size(1) == w.size(1),
            "upsample_conv2d: expected x [N, C, H, W] and a 3×3 kernel w [C_out, C, 3, 3], got x ",
            x.defined() ? x.shape() : Shape{}, " and w ", w.defined() ? w.shape() : Shape{});
  return conv_transpose2d(x, upsample_conv_kernel(w), bias, ConvTranspose2dArgs{2, 1});
}

}  // namespace ssl
