// Batched patch crop for the relative-patch-position pretext task (ssl/relative_patch.h), on contiguous
// tensors:
//   patches[i][k][ch][y][x] = images[i][ch][offsets[i][k][0] + y][offsets[i][k][1] + x]
// images [n, c, h, w], offsets int64 [n, k, 2] (top-left y, x of each patch), patches [n, k, c, p, p]. The
// offsets normally come from patch::patch_offset (kernels/common/patch_grid.h) on each sample's pre-drawn
// grid words, so a CUDA twin cuts exactly the same patches.
#pragma once

#include <cstdint>

#include "kernels/common/patch_grid.h"

namespace ssl::kernels::cpu {

// Requires n, c, h, w, k, p >= 1 and every patch inside its image (0 <= y, y + p <= h, and the same for x);
// otherwise throws ssl::Error naming the sample and the offset. Ensures patches is fully written.
template <class T>
void patch_crop(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t p, const int64_t* offsets,
                const T* images, T* patches);

// The offsets of all nine cells of each sample's grid: words [n, patch::kDrawsPerGrid] (one grid's draws
// per sample) -> offsets [n, patch::kCells, 2] (y, x), cells row-major. Requires patch::grid_fits(params,
// h, w) (otherwise throws ssl::Error).
void patch_grid_offsets(int64_t n, int64_t h, int64_t w, patch::GridParams params, const uint32_t* words,
                        int64_t* offsets);

}  // namespace ssl::kernels::cpu
