// The per-pixel colour formulas of kernels/common/color.h (shared with any GPU version of colour jitter).
#include <doctest/doctest.h>

#include <cmath>
#include <initializer_list>

#include "kernels/common/color.h"

using namespace ssl::color;

namespace {
bool near(Rgb a, Rgb b, float tol = 1e-5f) {
  return std::fabs(a.r - b.r) <= tol && std::fabs(a.g - b.g) <= tol && std::fabs(a.b - b.b) <= tol;
}
}  // namespace

TEST_CASE("color: rgb_to_hsv on primaries and grey") {
  Hsv red = rgb_to_hsv({1, 0, 0}), green = rgb_to_hsv({0, 1, 0}), blue = rgb_to_hsv({0, 0, 1});
  CHECK(red.h == doctest::Approx(0.0));
  CHECK(green.h == doctest::Approx(1.0 / 3.0));
  CHECK(blue.h == doctest::Approx(2.0 / 3.0));
  CHECK(rgb_to_hsv({1, 0, 1}).h == doctest::Approx(5.0 / 6.0));  // magenta
  CHECK(red.s == doctest::Approx(1.0));
  CHECK(red.v == doctest::Approx(1.0));
  const Hsv grey = rgb_to_hsv({0.4f, 0.4f, 0.4f});
  CHECK(grey.s == 0.f);
  CHECK(grey.v == doctest::Approx(0.4));
  const Hsv dark_orange = rgb_to_hsv({0.5f, 0.25f, 0.f});
  CHECK(dark_orange.h == doctest::Approx(1.0 / 12.0));
  CHECK(dark_orange.s == doctest::Approx(1.0));
  CHECK(dark_orange.v == doctest::Approx(0.5));
}

TEST_CASE("color: HSV round trip and hue shift round trip") {
  int checked = 0;
  for (float r = 0; r <= 1.f; r += 0.1f) {
    for (float g = 0; g <= 1.f; g += 0.1f) {
      for (float b = 0; b <= 1.f; b += 0.1f) {
        const Rgb p{r, g, b};
        CHECK(near(hsv_to_rgb(rgb_to_hsv(p)), p));
        for (float shift : {0.1f, -0.1f, 0.37f, -0.5f}) {
          const Rgb there = adjust_hue(p, shift);
          CHECK(near(adjust_hue(there, -shift), p, 2e-5f));
          CHECK(rgb_to_hsv(there).s == doctest::Approx(rgb_to_hsv(p).s).epsilon(1e-4));  // only hue moves
        }
        ++checked;
      }
    }
  }
  CHECK(checked >= 1000);
}

TEST_CASE("color: hue shift moves around the colour wheel") {
  CHECK(near(adjust_hue({1, 0, 0}, 1.f / 3.f), {0, 1, 0}));                // red -> green
  CHECK(near(adjust_hue({1, 0, 0}, -1.f / 3.f), {0, 0, 1}));               // red -> blue
  CHECK(near(adjust_hue({0, 0, 1}, 1.f / 3.f), {1, 0, 0}));                // blue -> red (wraps)
  CHECK(near(adjust_hue({0.3f, 0.3f, 0.3f}, 0.25f), {0.3f, 0.3f, 0.3f}));  // grey has no hue
  CHECK(near(adjust_hue({0.2f, 0.6f, 0.9f}, 0.f), {0.2f, 0.6f, 0.9f}));
}

TEST_CASE("color: brightness, contrast, saturation, grayscale") {
  CHECK(near(adjust_brightness({0.2f, 0.4f, 0.6f}, 0.5f), {0.1f, 0.2f, 0.3f}));
  CHECK(near(adjust_brightness({0.2f, 0.4f, 0.6f}, 2.f), {0.4f, 0.8f, 1.f}));  // clamped
  CHECK(near(adjust_brightness({0.2f, 0.4f, 0.6f}, 1.f), {0.2f, 0.4f, 0.6f}));
  CHECK(near(adjust_contrast({0.2f, 0.4f, 0.6f}, 0.f, 0.5f), {0.5f, 0.5f, 0.5f}));
  CHECK(near(adjust_contrast({0.2f, 0.4f, 0.6f}, 0.5f, 0.5f), {0.35f, 0.45f, 0.55f}));
  const Rgb p{0.9f, 0.3f, 0.1f};
  const float y = 0.299f * 0.9f + 0.587f * 0.3f + 0.114f * 0.1f;
  CHECK(luma(p) == doctest::Approx(y));
  CHECK(near(adjust_saturation(p, 0.f), {y, y, y}));
  CHECK(near(adjust_saturation(p, 1.f), p));
  CHECK(near(grayscale(p), {y, y, y}));
  CHECK(luma({1, 1, 1}) == doctest::Approx(1.0));  // the weights sum to 1: white stays white
}
