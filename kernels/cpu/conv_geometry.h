// The geometry of a convolution's group and the zero-padded copy of its input, shared by the CPU kernels
// (kernels/cpu/conv.cpp, im2col + GEMM; kernels/cpu/conv_direct.cpp, direct loops).
#pragma once

#include <cstdint>

#include "kernels/conv.h"

namespace ssl::kernels::cpu {

// Sizes of one group of a convolution, derived once per call.
struct ConvGeometry {
  int64_t cg_in, cg_out;   // channels per group
  int64_t plane;           // h*w
  int64_t hp, wp, pplane;  // the zero-padded input plane: (h + 2*pad_h) x (w + 2*pad_w)
  int64_t oh, ow, p;       // output plane, p = oh*ow (columns of col)
  int64_t k;               // weights per output channel, cg_in*kh*kw (rows of col)
  bool padded;             // pad_h or pad_w > 0: the kernels read from a zero-padded copy of the input
  bool input_is_col;       // 1x1, stride 1, no padding: the input itself is col

  explicit ConvGeometry(const Conv2dShape& s)
      : cg_in(s.c_in / s.groups),
        cg_out(s.c_out / s.groups),
        plane(s.h * s.w),
        hp(s.h + 2 * s.pad_h),
        wp(s.w + 2 * s.pad_w),
        pplane(hp * wp),
        oh(s.out_h()),
        ow(s.out_w()),
        p(oh * ow),
        k(cg_in * s.kh * s.kw),
        padded(s.pad_h > 0 || s.pad_w > 0),
        input_is_col(s.kh == 1 && s.kw == 1 && s.stride_h == 1 && s.stride_w == 1 && !padded) {}
};

// The copies below are plain `omp simd` loops, for the reason kernels/cpu/image_chunks.h gives.

// Copies x [cg_in, h, w] into the interior of xpad [cg_in, hp, wp]. The caller zeroes xpad once; its border
// is never written, so one buffer serves every image of the call.
template <class T>
void pad_input(const Conv2dShape& s, const ConvGeometry& g, const T* x, T* xpad) {
  for (int64_t c = 0; c < g.cg_in; ++c)
    for (int64_t iy = 0; iy < s.h; ++iy) {
      const T* src = x + c * g.plane + iy * s.w;
      T* dst = xpad + c * g.pplane + (iy + s.pad_h) * g.wp + s.pad_w;
#pragma omp simd
      for (int64_t ix = 0; ix < s.w; ++ix) dst[ix] = src[ix];
    }
}

// The inverse: the interior of gxpad [cg_in, hp, wp] into gx [cg_in, h, w]. The border holds the gradient
// of padding, which is discarded.
template <class T>
void unpad_gradient(const Conv2dShape& s, const ConvGeometry& g, const T* gxpad, T* gx) {
  for (int64_t c = 0; c < g.cg_in; ++c)
    for (int64_t iy = 0; iy < s.h; ++iy) {
      const T* src = gxpad + c * g.pplane + (iy + s.pad_h) * g.wp + s.pad_w;
      T* dst = gx + c * g.plane + iy * s.w;
#pragma omp simd
      for (int64_t ix = 0; ix < s.w; ++ix) dst[ix] = src[ix];
    }
}

}  // namespace ssl::kernels::cpu
