// CPU batched patch crop: one (sample, patch) pair per OpenMP iteration, each patch row a contiguous copy.
// The offsets are all checked first, so the parallel loop never throws.
#include "kernels/patch_crop.h"

#include <algorithm>

#include "core/error.h"

namespace ssl::kernels::cpu {

template <class T>
void patch_crop(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t p, const int64_t* offsets,
                const T* images, T* patches) {
  SSL_CHECK(n >= 1 && c >= 1 && h >= 1 && w >= 1 && k >= 1 && p >= 1,
            "patch_crop: sizes must be positive, got n=", n, " c=", c, " h=", h, " w=", w, " k=", k,
            " p=", p);
  SSL_CHECK(offsets && images && patches, "patch_crop: pointers must not be null");
  for (int64_t j = 0; j < n * k; ++j) {
    const int64_t oy = offsets[2 * j], ox = offsets[2 * j + 1];
    SSL_CHECK(oy >= 0 && ox >= 0 && oy <= h - p && ox <= w - p, "patch_crop: patch ", j % k, " of sample ",
              j / k, " at (", oy, ", ", ox, ") with side ", p, " is not inside the ", h, "x", w, " image");
  }
  const int64_t plane = p * p;
#pragma omp parallel for schedule(static)
  for (int64_t j = 0; j < n * k; ++j) {
    const int64_t i = j / k, oy = offsets[2 * j], ox = offsets[2 * j + 1];
    T* out = patches + j * c * plane;
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = 0; y < p; ++y) {
        const T* src = images + patch::crop_source_index(i, ch, y, 0, oy, ox, c, h, w);
        std::copy(src, src + p, out + (ch * p + y) * p);
      }
  }
}

void patch_grid_offsets(int64_t n, int64_t h, int64_t w, patch::GridParams params, const uint32_t* words,
                        int64_t* offsets) {
  SSL_CHECK(n >= 0 && h >= 1 && w >= 1 && h <= (1 << 24) && w <= (1 << 24),
            "patch_grid_offsets: bad sizes n=", n, " h=", h, " w=", w);
  SSL_CHECK(patch::grid_fits(params, int(h), int(w)), "patch_grid_offsets: a grid of 3 patches of ",
            params.patch, " px, gaps of ", params.gap, " px and jitter +-", params.jitter,
            " px does not fit in a ", h, "x", w, " image");
  SSL_CHECK(n == 0 || (words && offsets), "patch_grid_offsets: pointers must not be null");
  for (int64_t i = 0; i < n; ++i)
    for (int cell = 0; cell < patch::kCells; ++cell) {
      const patch::Offset o =
          patch::patch_offset(params, int(h), int(w), cell, words + i * patch::kDrawsPerGrid);
      offsets[(i * patch::kCells + cell) * 2] = o.y;
      offsets[(i * patch::kCells + cell) * 2 + 1] = o.x;
    }
}

template void patch_crop<float>(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, const int64_t*,
                                const float*, float*);
template void patch_crop<double>(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, const int64_t*,
                                 const double*, double*);

}  // namespace ssl::kernels::cpu
