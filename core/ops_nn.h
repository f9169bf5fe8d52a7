// Ops for generators, decoders and training objectives: transposed convolution, nearest-neighbour upsampling,
// the losses (cross-entropy with label smoothing, BCE with logits, MSE) and patch cropping. Same contract
// as core/ops.h (argument checks that throw ssl::Error naming the op and the shapes, the kernel for the
// inputs' device, the backward formula recorded next to the forward); kept apart so that core/ops.h stays
// short.
#pragma once

#include "core/ops.h"

namespace ssl {

// ---- transposed convolution (core/ops/conv_transpose.cpp) -------------------------------------------------
struct ConvTranspose2dArgs {
  int64_t stride = 1, padding = 0, output_padding = 0, groups = 1;
};
// PyTorch's conv_transpose2d: x [N, C_in, H, W], w [C_in, C_out/groups, kH, kW], bias [C_out] or undefined.
// y [N, C_out, (H−1)·stride − 2·padding + kH + output_padding, (likewise W)]. It is the gradient of
// conv2d(·, w, stride, padding, groups) with respect to its input; output_padding must be < stride.
Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& bias = Tensor(),
                        ConvTranspose2dArgs args = {});

// ---- upsampling (core/ops/upsample.cpp) ------------------------------------------------------------------
// Nearest-neighbour upsampling of x [N, C, H, W] by an integer factor: [N, C, H·scale, W·scale], each pixel
// repeated in a scale × scale block (PyTorch's F.interpolate(x, scale_factor=scale, mode="nearest")).
Tensor upsample_nearest2d(const Tensor& x, int64_t scale);
// conv2d(upsample_nearest2d(x, 2), w, bias, {1, 1}) for a 3×3 kernel w [C_out, C_in, 3, 3], computed as one
// transposed convolution (stride 2, padding 1) whose 4×4 kernel is made from w: each output then sums 2×2
// inputs per channel instead of 3×3 upsampled ones. Equal up to rounding; w's gradient comes back through the
// kernel's construction.
Tensor upsample_conv2d(const Tensor& x, const Tensor& w, const Tensor& bias = Tensor());

}  // namespace ssl

// ---- losses (core/ops/losses.cpp) ------------------------------------------------------------------------
namespace ssl {

// PyTorch's cross_entropy with label smoothing ε in [0, 1]: (1 − ε)·NLL + ε·mean over classes of −log p,
// averaged over the batch; logits [N, C], targets int64 [N]. ε = 0 is cross_entropy(logits, targets).
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, double label_smoothing);
// mean of max(x, 0) − x·t + log(1 + e^{−|x|}) (the binary cross-entropy of sigmoid(x) against t, stable for
// any x); logits and targets of one shape and dtype; targets receive a gradient too (−x / n).
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& targets);
// mean((a − b)²) over all elements; a and b of one shape.
Tensor mse_loss(const Tensor& a, const Tensor& b);

}  // namespace ssl

// ---- patch crop (core/ops/patch.cpp) ---------------------------------------------------------------------
namespace ssl {

// Square patches cut from a batch of images: images [N, C, H, W] (floating), offsets int64 [N, K, 2]
// (top-left y, x of each patch, e.g. from patch::patch_offset) -> [N, K, C, patch, patch]. Every patch must
// lie inside its image. Not differentiable: it prepares inputs, so it throws when `images` requires grad
// while grad mode is on.
Tensor patch_crop(const Tensor& images, const Tensor& offsets, int64_t patch);

}  // namespace ssl
