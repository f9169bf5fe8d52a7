// Per-pixel colour formulas of colour jitter, shared by the CPU transforms (data/transforms.cpp) and any
// GPU version, so both compute the same thing. Values are floats in [0, 1]. The definitions follow the
// usual torchvision ones: each adjustment blends the pixel with a "degenerate" image (black for
// brightness, the image's mean grey for contrast, the pixel's own grey for saturation) and clamps.
#pragma once

#include "kernels/common/host_device.h"

namespace ssl::color {

struct Rgb {
  float r, g, b;
};

struct Hsv {
  float h, s, v;  // hue in [0, 1) turns, saturation and value in [0, 1]
};

SSL_HD float clamp01(float x) { return x < 0.f ? 0.f : (x > 1.f ? 1.f : x); }

// ITU-R 601-2 luma, the grey of "convert to grayscale".
SSL_HD float luma(Rgb p) { return 0.299f * p.r + 0.587f * p.g + 0.114f * p.b; }

// factor * p + (1 - factor) * other, clamped: factor 1 is the identity, 0 gives `other`.
SSL_HD Rgb blend(Rgb p, Rgb other, float factor) {
  const float k = 1.f - factor;
  return {clamp01(factor * p.r + k * other.r), clamp01(factor * p.g + k * other.g),
          clamp01(factor * p.b + k * other.b)};
}

SSL_HD Rgb grayscale(Rgb p) {
  const float y = luma(p);
  return {y, y, y};
}

SSL_HD Rgb adjust_brightness(Rgb p, float factor) { return blend(p, Rgb{0.f, 0.f, 0.f}, factor); }

// `mean_luma` is the mean luma over the whole image (the caller computes it once per image).
SSL_HD Rgb adjust_contrast(Rgb p, float factor, float mean_luma) {
  return blend(p, Rgb{mean_luma, mean_luma, mean_luma}, factor);
}

SSL_HD Rgb adjust_saturation(Rgb p, float factor) { return blend(p, grayscale(p), factor); }

SSL_HD Hsv rgb_to_hsv(Rgb p) {
  const float maxc = p.r > p.g ? (p.r > p.b ? p.r : p.b) : (p.g > p.b ? p.g : p.b);
  const float minc = p.r < p.g ? (p.r < p.b ? p.r : p.b) : (p.g < p.b ? p.g : p.b);
  const float range = maxc - minc;
  if (range <= 0.f) return {0.f, 0.f, maxc};  // grey: hue undefined, take 0
  float h;
  if (maxc == p.r) {
    h = (p.g - p.b) / range;  // between yellow and magenta
  } else if (maxc == p.g) {
    h = 2.f + (p.b - p.r) / range;  // between cyan and yellow
  } else {
    h = 4.f + (p.r - p.g) / range;  // between magenta and cyan
  }
  h /= 6.f;
  if (h < 0.f) h += 1.f;
  return {h, range / maxc, maxc};
}

SSL_HD Rgb hsv_to_rgb(Hsv c) {
  const float h6 = c.h * 6.f;
  int sector = int(h6);  // h in [0, 1) so h6 >= 0 and int() is floor
  const float f = h6 - float(sector);
  sector = sector % 6;
  const float p = clamp01(c.v * (1.f - c.s));
  const float q = clamp01(c.v * (1.f - c.s * f));
  const float t = clamp01(c.v * (1.f - c.s * (1.f - f)));
  switch (sector) {
    case 0:
      return {c.v, t, p};
    case 1:
      return {q, c.v, p};
    case 2:
      return {p, c.v, t};
    case 3:
      return {p, q, c.v};
    case 4:
      return {t, p, c.v};
    default:
      return {c.v, p, q};
  }
}

// Rotates the hue by `shift` turns (torchvision's hue_factor, in [-0.5, 0.5]); grey pixels are unchanged.
SSL_HD Rgb adjust_hue(Rgb p, float shift) {
  Hsv c = rgb_to_hsv(p);
  float h = c.h + shift;
  h -= float(int(h));     // wrap into (-1, 1) ...
  if (h < 0.f) h += 1.f;  // ... then [0, 1]
  if (h >= 1.f) h = 0.f;  // guards -1e-9 + 1 rounding up to exactly 1
  c.h = h;
  return hsv_to_rgb(c);
}

}  // namespace ssl::color
