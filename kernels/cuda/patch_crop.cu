// CUDA batched patch crop and the patch grid's offsets (contracts in kernels/cuda/patch_crop.h; CPU twin
// kernels/cpu/patch_crop.cpp). Both kernels are one thread per output element running the same SSL_HD
// geometry as the CPU (patch::patch_offset, patch::crop_source_index), so the GPU cuts the same pixels.
//
// One version each: a gather with no arithmetic to speak of. Consecutive threads write consecutive pixels of
// a patch row and read consecutive pixels of an image row, so both sides are coalesced except at row ends.
// Bytes (float32, batch 256 of 3 x 96 x 96 images, 9 patches of 23 px): patches 14.6 MB written and the same
// read (patches do not overlap), 29 MB, about 10 us at 3 TB/s; no flops. The offsets (256 x 9 x 2 int64) are
// negligible.
#include "kernels/cuda/patch_crop.h"

#include "kernels/cuda/kernel.cuh"

namespace ssl::kernels::SSL_CUDA_NS {
namespace {

constexpr int kThreads = 256;

// patches[j][ch][y][x] = images[j / k][ch][oy + y][ox + x], (oy, ox) = offsets[j]; 0 outside the image.
template <class T>
__global__ void patch_crop_kernel(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t p,
                                  const int64_t* offsets, const T* images, T* patches) {
  const int64_t total = n * k * c * p * p;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t x = e % p, y = e / p % p, ch = e / (p * p) % c, j = e / (p * p * c);
    const int64_t oy = offsets[2 * j], ox = offsets[2 * j + 1];
    const bool inside = oy + y >= 0 && oy + y < h && ox + x >= 0 && ox + x < w;
    patches[e] = inside ? images[patch::crop_source_index(j / k, ch, y, x, oy, ox, c, h, w)] : T(0);
  }
}

// One thread per (sample, cell).
__global__ void patch_grid_offsets_kernel(int64_t n, int h, int w, patch::GridParams params,
                                          const uint32_t* words, int64_t* offsets) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n * patch::kCells;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = e / patch::kCells;
    const int cell = int(e % patch::kCells);
    const patch::Offset o = patch::patch_offset(params, h, w, cell, words + i * patch::kDrawsPerGrid);
    offsets[2 * e] = o.y;
    offsets[2 * e + 1] = o.x;
  }
}

}  // namespace

template <class T>
void patch_crop(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t p, const int64_t* offsets,
                const T* images, T* patches) {
  SSL_CHECK(n >= 1 && c >= 1 && h >= 1 && w >= 1 && k >= 1 && p >= 1,
            "patch_crop: sizes must be positive, got n=", n, " c=", c, " h=", h, " w=", w, " k=", k,
            " p=", p);
  SSL_CHECK(offsets && images && patches, "patch_crop: pointers must not be null");
  const int64_t total = n * k * c * p * p;
  launch(patch_crop_kernel<T>, blocks_for(total, kThreads), kThreads, 0, n, c, h, w, k, p, offsets, images,
         patches);
}

void patch_grid_offsets(int64_t n, int64_t h, int64_t w, patch::GridParams params, const uint32_t* words,
                        int64_t* offsets) {
  SSL_CHECK(n >= 0 && h >= 1 && w >= 1 && h <= (1 << 24) && w <= (1 << 24),
            "patch_grid_offsets: bad sizes n=", n, " h=", h, " w=", w);
  SSL_CHECK(patch::grid_fits(params, int(h), int(w)), "patch_grid_offsets: a grid of 3 patches of ",
            params.patch, " px, gaps of ", params.gap, " px and jitter +-", params.jitter,
            " px does not fit in a ", h, "x", w, " image");
  if (n == 0) return;
  SSL_CHECK(words && offsets, "patch_grid_offsets: pointers must not be null");
  launch(patch_grid_offsets_kernel, blocks_for(n * patch::kCells, kThreads), kThreads, 0, n, int(h), int(w),
         params, words, offsets);
}

template void patch_crop<float>(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, const int64_t*,
                                const float*, float*);
template void patch_crop<double>(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, const int64_t*,
                                 const double*, double*);

}  // namespace ssl::kernels::SSL_CUDA_NS
