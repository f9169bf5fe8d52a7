// SimCLR's augmentation of a batch on the GPU: random resized crop (bilinear), horizontal flip, colour jitter
// (brightness, contrast, saturation, hue in a per-sample order) and grayscale, with every random choice
// drawn on the host per sample (AugmentParams), so that the kernel is deterministic and a CPU reference with
// the same parameters gives the same image. No CPU twin in kernels/cpu: the CPU transforms
// (data/transforms.cpp) draw their parameters inside apply(); the colour formulas are shared with them
// through kernels/common/color.h, and the crop matches data::resample wherever the crop box is no larger
// than the output (enlarging; a larger box is sampled bilinearly here where the CPU averages).
#pragma once

#include <cstdint>

#include "kernels/cuda/namespace.h"

namespace ssl::kernels {

// One sample's draws. Identity: the whole image as box, flip 0, jitter 0, grayscale 0.
struct AugmentParams {
  float x0, y0, box_w, box_h;              // crop box in input pixels (inside the image, fractional allowed)
  int32_t flip;                            // 1: mirror left-right
  int32_t jitter;                          // 1: apply the four colour adjustments below in `order`
  int32_t order[4];                        // a permutation of 0 brightness, 1 contrast, 2 saturation, 3 hue
  float brightness, contrast, saturation;  // blend factors (1 = unchanged)
  float hue;                               // hue shift in turns, in [-0.5, 0.5]
  int32_t grayscale;                       // 1: replace each pixel by its luma (after the jitter)
};

}  // namespace ssl::kernels

namespace ssl::kernels::SSL_CUDA_NS {

// Requires: images device uint8 [n, in_h, in_w, 3] (HWC), params device [n], out device float
// [n, 3, size, size], size * size >= 1. Ensures: out[i] = the augmented view of image i in [0, 1] (NCHW):
// crop box resized to size x size bilinearly (pixel centres at +0.5, edges clamped), flipped, jittered,
// greyed as params[i] says. One block per image; the contrast step's mean luma is a fixed-order block
// reduction, so the result is deterministic.
void simclr_augment(int64_t n, int64_t in_h, int64_t in_w, const uint8_t* images, const AugmentParams* params,
                    int64_t size, float* out);

}  // namespace ssl::kernels::SSL_CUDA_NS
