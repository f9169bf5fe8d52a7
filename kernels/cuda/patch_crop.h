// CUDA batched patch crop for the relative-patch-position task, the GPU twin of kernels/patch_crop.h: the
// same functions and layouts, data pointers on the device. The offsets come from patch::patch_offset
// (kernels/common/patch_grid.h) on the same words as on the CPU, so both cut exactly the same patches.
#pragma once

#include <cstdint>

#include "kernels/common/patch_grid.h"
#include "kernels/cuda/namespace.h"

namespace ssl::kernels::SSL_CUDA_NS {

// Requires n, c, h, w, k, p >= 1 (otherwise throws ssl::Error); images [n, c, h, w], offsets int64 [n, k, 2]
// (y, x of each patch's top-left corner), patches [n, k, c, p, p], all on the device. Every patch should lie
// inside its image, as on the CPU; the offsets are device data, which the host cannot check without waiting
// for the device, so instead the kernel never reads outside the image: pixels of a patch that falls outside
// are written as 0. Ensures patches is fully written.
template <class T>
void patch_crop(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t p, const int64_t* offsets,
                const T* images, T* patches);

// words [n, patch::kDrawsPerGrid] -> offsets [n, patch::kCells, 2] (y, x; cells row-major), both on the
// device: exactly cpu::patch_grid_offsets on the same words. Requires patch::grid_fits(params, h, w)
// (otherwise throws ssl::Error).
void patch_grid_offsets(int64_t n, int64_t h, int64_t w, patch::GridParams params, const uint32_t* words,
                        int64_t* offsets);

}  // namespace ssl::kernels::SSL_CUDA_NS
