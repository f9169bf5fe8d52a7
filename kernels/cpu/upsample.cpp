// CPU nearest-neighbour upsampling: one (image, channel) plane per OpenMP iteration. Backward gathers (each
// input pixel sums its own block) rather than scatters, so planes never race and the sums are ordered.
#include "kernels/upsample.h"

#include "core/error.h"

namespace ssl::kernels::cpu {
namespace {
void check_sizes(const char* fn, int64_t n, int64_t c, int64_t h, int64_t w, int64_t scale) {
  SSL_CHECK(n >= 1 && c >= 1 && h >= 1 && w >= 1 && scale >= 1, fn,
            ": sizes and scale must be positive, got n=", n, " c=", c, " h=", h, " w=", w, " scale=", scale);
}
}  // namespace

template <class T>
void upsample_nearest2d_forward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t scale, const T* x, T* y) {
  check_sizes("upsample_nearest2d_forward", n, c, h, w, scale);
  SSL_CHECK(x && y, "upsample_nearest2d_forward: x and y must not be null");
  const int64_t ow = w * scale, planes = n * c, in_plane = h * w, out_plane = in_plane * scale * scale;
#pragma omp parallel for schedule(static)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const T* xp = x + pl * in_plane;
    T* yp = y + pl * out_plane;
    for (int64_t iy = 0; iy < h; ++iy) {
      T* row = yp + iy * scale * ow;
      const T* src = xp + iy * w;
      for (int64_t ix = 0; ix < w; ++ix)
        for (int64_t d = 0; d < scale; ++d) row[ix * scale + d] = src[ix];
      for (int64_t r = 1; r < scale; ++r)  // the other scale-1 rows repeat the first
        for (int64_t ox = 0; ox < ow; ++ox) row[r * ow + ox] = row[ox];
    }
  }
}

template <class T>
void upsample_nearest2d_backward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t scale, const T* gy,
                                 T* gx) {
  check_sizes("upsample_nearest2d_backward", n, c, h, w, scale);
  SSL_CHECK(gy && gx, "upsample_nearest2d_backward: gy and gx must not be null");
  const int64_t ow = w * scale, planes = n * c, in_plane = h * w, out_plane = in_plane * scale * scale;
#pragma omp parallel for schedule(static)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const T* gp = gy + pl * out_plane;
    T* xp = gx + pl * in_plane;
    for (int64_t iy = 0; iy < h; ++iy)
      for (int64_t ix = 0; ix < w; ++ix) {
        T acc = 0;
        for (int64_t r = 0; r < scale; ++r) {
          const T* src = gp + (iy * scale + r) * ow + ix * scale;
          for (int64_t d = 0; d < scale; ++d) acc += src[d];
        }
        xp[iy * w + ix] = acc;
      }
  }
}

template void upsample_nearest2d_forward<float>(int64_t, int64_t, int64_t, int64_t, int64_t, const float*,
                                                float*);
template void upsample_nearest2d_forward<double>(int64_t, int64_t, int64_t, int64_t, int64_t, const double*,
                                                 double*);
template void upsample_nearest2d_backward<float>(int64_t, int64_t, int64_t, int64_t, int64_t, const float*,
                                                 float*);
template void upsample_nearest2d_backward<double>(int64_t, int64_t, int64_t, int64_t, int64_t, const double*,
                                                  double*);

}  // namespace ssl::kernels::cpu
