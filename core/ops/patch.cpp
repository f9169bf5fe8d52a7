// Batched patch crop (relative patch position): the kernel call and its argument checks; no backward.
#include "core/ops/op_helpers.h"
#include "core/ops_nn.h"
#include "kernels/cuda/patch_crop.h"
#include "kernels/patch_crop.h"

namespace ssl {

Tensor patch_crop(const Tensor& images_in, const Tensor& offsets_in, int64_t patch) {
  detail::check_inputs("patch_crop", {images_in, offsets_in});
  SSL_CHECK(images_in.dim() == 4 && offsets_in.dim() == 3 && offsets_in.size(2) == 2 &&
                offsets_in.size(0) == images_in.size(0),
            "patch_crop: expected images [N, C, H, W] and offsets [N, K, 2], got ", images_in.shape(),
            " and ", offsets_in.shape());
  SSL_CHECK(patch >= 1, "patch_crop: the patch side must be >= 1, got ", patch);
  SSL_CHECK(offsets_in.dtype() == DType::i64, "patch_crop: offsets must be int64, got ",
            dtype_name(offsets_in.dtype()));
  SSL_CHECK(!(grad_enabled() && images_in.requires_grad()),
            "patch_crop: not differentiable; crop images that do not require grad, or under NoGradGuard");
  const Tensor x = images_in.contiguous(), offsets = offsets_in.contiguous();
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), k = offsets.size(1);
  Tensor y = Tensor::empty({n, k, c, patch, patch}, x.dtype(), x.device());
  dispatch_floating(x.dtype(), "patch_crop", [&]<class T>() {
    const int64_t* at = offsets.data<int64_t>();
    detail::on_device(
        x.device(), [&] { kernels::cpu::patch_crop<T>(n, c, h, w, k, patch, at, x.data<T>(), y.data<T>()); },
        [&] { kernels::cuda::patch_crop<T>(n, c, h, w, k, patch, at, x.data<T>(), y.data<T>()); });
  });
  return y;
}

}  // namespace ssl
