// SimCLR's augmentation of a batch, one block per image (contract in kernels/cuda/augment.h).
//
// One version. The block's threads take the output pixels t, t + 256, ... and keep them in the output
// buffer between the steps, each thread rereading only the pixels it wrote, so no barrier is needed except
// around the contrast step, whose blend target is the mean luma of the whole image at that step (a block
// reduction in a fixed order: the same bits on every run, as the CPU's sequential sum is deterministic).
//   1. crop + resize + flip: bilinear sample of the uint8 box, scaled to [0, 1];
//   2. colour jitter in the sample's order (kernels/common/color.h, the CPU transforms' formulas);
//   3. grayscale.
//
// The floor, for a typical batch (512 CIFAR-10 images, 32 × 32 × 3 uint8 in, float NCHW out): bytes
// 1.6 MB read + 6.3 MB written (+ the jitter's rereads, which hit L2) ≈ 8 MB → 2.6 µs at 3 TB/s; flops
// ≈ 524 k pixels × ~150 (bilinear 3 × 8, four blends, RGB↔HSV twice) ≈ 80 Mflop → 1.3 µs at 60 TFLOP/s. Both
// are far below a launch's few µs; what matters is that the batch no longer waits on the host's augmentation
// threads and the upload of float images (4× the uint8 bytes).
#include "kernels/common/color.h"
#include "kernels/cuda/augment.h"
#include "kernels/cuda/kernel.cuh"

namespace ssl::kernels::SSL_CUDA_NS {

namespace {

constexpr int kThreads = 256;

// Source coordinate of output position o along an axis: the box's pixel centres, clamped to the image.
__device__ __forceinline__ void tap(float box0, float box_len, int64_t size, int64_t o, int64_t in_size,
                                    int64_t& lo, int64_t& hi, float& frac) {
  float s = box0 + (float(o) + 0.5f) * (box_len / float(size)) - 0.5f;
  s = s < 0.f ? 0.f : (s > float(in_size - 1) ? float(in_size - 1) : s);
  lo = int64_t(s);  // s >= 0, so truncation is floor
  hi = lo + 1 < in_size ? lo + 1 : lo;
  frac = s - float(lo);
}

// The mean luma of the block's image in out (plane stride `plane`), the same in every thread.
__device__ float mean_luma(const float* img, int64_t plane) {
  __shared__ double partial[kThreads];
  const int t = int(threadIdx.x);
  double sum = 0;
  for (int64_t i = t; i < plane; i += kThreads)
    sum += color::luma({img[i], img[plane + i], img[2 * plane + i]});
  __syncthreads();  // partial may still be read by a previous call
  partial[t] = sum;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (t < half) partial[t] += partial[t + half];
    __syncthreads();
  }
  return float(partial[0] / double(plane));
}

__global__ void simclr_augment_kernel(int64_t in_h, int64_t in_w, const uint8_t* images,
                                      const AugmentParams* params, int64_t size, float* out) {
  const AugmentParams a = params[blockIdx.x];
  const uint8_t* in = images + int64_t(blockIdx.x) * in_h * in_w * 3;
  const int64_t plane = size * size;
  float* img = out + int64_t(blockIdx.x) * 3 * plane;

  for (int64_t i = threadIdx.x; i < plane; i += kThreads) {
    const int64_t oy = i / size, ox = a.flip ? size - 1 - i % size : i % size;
    int64_t y0, y1, x0, x1;
    float fy, fx;
    tap(a.y0, a.box_h, size, oy, in_h, y0, y1, fy);
    tap(a.x0, a.box_w, size, ox, in_w, x0, x1, fx);
    for (int c = 0; c < 3; ++c) {
      const float top =
          (1.f - fx) * float(in[(y0 * in_w + x0) * 3 + c]) + fx * float(in[(y0 * in_w + x1) * 3 + c]);
      const float bottom =
          (1.f - fx) * float(in[(y1 * in_w + x0) * 3 + c]) + fx * float(in[(y1 * in_w + x1) * 3 + c]);
      img[c * plane + i] = ((1.f - fy) * top + fy * bottom) / 255.f;
    }
  }

  if (a.jitter) {
    for (int k = 0; k < 4; ++k) {
      const int op = a.order[k];
      // Every thread reaches mean_luma (the branch is uniform over the block).
      const float mean = op == 1 ? mean_luma(img, plane) : 0.f;
      for (int64_t i = threadIdx.x; i < plane; i += kThreads) {
        color::Rgb p{img[i], img[plane + i], img[2 * plane + i]};
        if (op == 0) p = color::adjust_brightness(p, a.brightness);
        if (op == 1) p = color::adjust_contrast(p, a.contrast, mean);
        if (op == 2) p = color::adjust_saturation(p, a.saturation);
        if (op == 3) p = color::adjust_hue(p, a.hue);
        img[i] = p.r;
        img[plane + i] = p.g;
        img[2 * plane + i] = p.b;
      }
    }
  }

  if (a.grayscale) {
    for (int64_t i = threadIdx.x; i < plane; i += kThreads) {
      const float y = color::luma({img[i], img[plane + i], img[2 * plane + i]});
      img[i] = img[plane + i] = img[2 * plane + i] = y;
    }
  }
}

}  // namespace

void simclr_augment(int64_t n, int64_t in_h, int64_t in_w, const uint8_t* images, const AugmentParams* params,
                    int64_t size, float* out) {
  SSL_CHECK(in_h > 0 && in_w > 0 && size > 0, "simclr_augment: sizes must be positive, got input ", in_h, "x",
            in_w, ", output ", size);
  SSL_CHECK(n <= 2147483647, "simclr_augment: ", n, " images is more than one grid holds");
  if (n == 0) return;
  launch(simclr_augment_kernel, unsigned(n), kThreads, 0, in_h, in_w, images, params, size, out);
}

}  // namespace ssl::kernels::SSL_CUDA_NS
