// The batched SimCLR augmentation against a CPU reference with the same per-sample parameters. The CPU
// transforms (data/transforms.cpp) draw their parameters inside apply() and this suite does not link
// data/, so the reference is written here: the crop follows data::resample's triangle filter (renormalised
// at the edges) for enlarging boxes, the colour steps follow ColorJitter and RandomGrayscale in float, with
// the formulas of kernels/common/color.h.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/common/color.h"
#include "kernels/cuda/augment.h"
#include "support/device_buffer.h"
#include "support/kernel_check.h"

using namespace ssl;
using kernels::AugmentParams;
namespace dev = ssl::kernels::SSL_CUDA_NS;

namespace {

// data::resample's taps along one axis for an enlarging box (support 1): weights 1 − |i + 0.5 − centre|
// over the pixels inside the image, renormalised.
void reference_taps(int64_t in_size, double box0, double box_len, int64_t out_size, int64_t o,
                    std::vector<std::pair<int64_t, double>>& taps) {
  const double centre = box0 + (double(o) + 0.5) * box_len / double(out_size);
  taps.clear();
  double sum = 0;
  for (int64_t i = std::max<int64_t>(0, int64_t(std::floor(centre - 1)));
       i < std::min<int64_t>(in_size, int64_t(std::ceil(centre + 1))); ++i) {
    const double w = std::max(0.0, 1.0 - std::fabs(double(i) + 0.5 - centre));
    if (w > 0) taps.push_back({i, w});
    sum += w;
  }
  for (auto& t : taps) t.second /= sum;
}

std::vector<double> reference(int64_t in_h, int64_t in_w, const uint8_t* in, const AugmentParams& a,
                              int64_t size) {
  const int64_t plane = size * size;
  std::vector<color::Rgb> px(plane);
  std::vector<std::pair<int64_t, double>> ty, tx;
  for (int64_t oy = 0; oy < size; ++oy)
    for (int64_t x = 0; x < size; ++x) {
      const int64_t ox = a.flip ? size - 1 - x : x;
      reference_taps(in_h, a.y0, a.box_h, size, oy, ty);
      reference_taps(in_w, a.x0, a.box_w, size, ox, tx);
      float rgb[3] = {0, 0, 0};
      for (int c = 0; c < 3; ++c) {
        double v = 0;
        for (auto [y, wy] : ty)
          for (auto [xx, wx] : tx) v += wy * wx * in[(y * in_w + xx) * 3 + c];
        rgb[c] = float(v / 255.0);
      }
      px[oy * size + x] = {rgb[0], rgb[1], rgb[2]};
    }
  if (a.jitter) {
    for (int op : a.order) {
      double sum = 0;
      for (const auto& p : px) sum += color::luma(p);
      const float mean = float(sum / double(plane));
      for (auto& p : px) {
        if (op == 0) p = color::adjust_brightness(p, a.brightness);
        if (op == 1) p = color::adjust_contrast(p, a.contrast, mean);
        if (op == 2) p = color::adjust_saturation(p, a.saturation);
        if (op == 3) p = color::adjust_hue(p, a.hue);
      }
    }
  }
  if (a.grayscale)
    for (auto& p : px) p = color::grayscale(p);
  std::vector<double> out(3 * plane);
  for (int64_t i = 0; i < plane; ++i) {
    out[i] = px[i].r;
    out[plane + i] = px[i].g;
    out[2 * plane + i] = px[i].b;
  }
  return out;
}

}  // namespace

TEST_CASE("augment: simclr_augment of a batch matches the CPU reference for the same parameters") {
  std::mt19937_64 rng(41);
  const int64_t n = 6, in_h = 16, in_w = 20, size = 21;  // 441 pixels: not a multiple of the block
  std::vector<uint8_t> images(n * in_h * in_w * 3);
  std::uniform_int_distribution<int> byte(1, 255);
  for (auto& b : images) b = uint8_t(byte(rng));

  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::vector<AugmentParams> params(n);
  for (int64_t i = 0; i < n; ++i) {
    AugmentParams& a = params[i];
    // An enlarging box (no larger than the output) inside the image.
    a.box_w = 4.f + u(rng) * 12.f;
    a.box_h = 4.f + u(rng) * 12.f;
    a.x0 = u(rng) * (float(in_w) - a.box_w);
    a.y0 = u(rng) * (float(in_h) - a.box_h);
    a.flip = i % 2;
    a.jitter = i >= 2;
    for (int k = 0; k < 4; ++k) a.order[k] = k;
    std::shuffle(a.order, a.order + 4, rng);
    a.brightness = 0.6f + 0.8f * u(rng);
    a.contrast = 0.6f + 0.8f * u(rng);
    a.saturation = 0.6f + 0.8f * u(rng);
    a.hue = -0.1f + 0.2f * u(rng);
    a.grayscale = i == 3 || i == 5;
  }
  params[0] = {0.f, 0.f, float(in_w), float(in_h), 0, 0, {0, 1, 2, 3}, 1.f, 1.f, 1.f, 0.f, 0};  // whole image

  test::DeviceBuffer<uint8_t> dimages(images);
  test::DeviceBuffer<AugmentParams> dparams(params);
  test::DeviceBuffer<float> out = test::DeviceBuffer<float>::poisoned(n * 3 * size * size);
  dev::simclr_augment(n, in_h, in_w, dimages.get(), dparams.get(), size, out.get());
  const std::vector<float> got = out.download();
  for (int64_t i = 0; i < n; ++i) {
    CAPTURE(i);
    const std::vector<double> want =
        reference(in_h, in_w, images.data() + i * in_h * in_w * 3, params[i], size);
    const std::vector<float> mine(got.begin() + i * 3 * size * size, got.begin() + (i + 1) * 3 * size * size);
    test::check_close(mine, want, 1e-4, 1e-4, "simclr_augment");
  }
}
