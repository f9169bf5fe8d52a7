// Resampling: the geometric core of the resize and crop transforms.
#pragma once

#include <cstdint>

#include "data/image.h"

namespace ssl::data {

// Resamples the box (x0, y0, box_w, box_h) of `in`, in pixels (fractional allowed; the box must lie inside
// the image), to out_h x out_w, keeping the channels. A separable triangle filter: plain bilinear
// interpolation (pixel centres at +0.5, edges clamped) when enlarging, and a filter widened to the shrink
// factor when reducing, so that downscaling averages neighbouring pixels instead of aliasing (as PIL does).
Image resample(const Image& in, double x0, double y0, double box_w, double box_h, int64_t out_h,
               int64_t out_w);

// Mirrors left-right.
Image flip_horizontal(const Image& in);

}  // namespace ssl::data
