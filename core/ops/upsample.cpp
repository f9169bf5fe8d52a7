// Nearest-neighbour upsampling by an integer factor on NCHW tensors.
#include "kernels/cuda/upsample.h"
#include "core/ops/op_helpers.h"
#include "core/ops_nn.h"
#include "kernels/upsample.h"

namespace ssl {

// d upsample_nearest2d: each input pixel receives the sum of its scale × scale block of g
Tensor upsample_nearest2d(const Tensor& x_in, int64_t scale) {
  detail::check_inputs("upsample_nearest2d", {x_in}, /*cuda_ok=*/true);
  SSL_CHECK(x_in.dim() == 4 && scale >= 1,
            "upsample_nearest2d: expected x [N, C, H, W] and a scale >= 1, got ", x_in.shape(), " and ",
            scale);
  const Tensor x = x_in.detach().contiguous();
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  SSL_CHECK(n >= 1 && c >= 1 && h >= 1 && w >= 1, "upsample_nearest2d: empty input ", x.shape());
  Tensor y = Tensor::empty({n, c, h * scale, w * scale}, x.dtype(), x.device());
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

}  // namespace ssl
