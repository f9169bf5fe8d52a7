#include "data/transforms.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "core/error.h"
#include "data/dataset.h"
#include "data/resample.h"
#include "data/transforms_extra.h"
#include "kernels/common/color.h"

namespace ssl::data {

void check_probability(double p, const char* who) {
  SSL_CHECK(p >= 0.0 && p <= 1.0, who, ": probability must be in [0, 1], got ", p);
}

// ---- Resize ----------------------------------------------------------------------------------------------

Resize::Resize(int64_t size) : size_(size) {
  SSL_CHECK(size > 0, "Resize: size must be positive, got ", size);
}

Image Resize::apply(const Image& in, rng::Stream&) const {
  return resample(in, 0, 0, double(in.w), double(in.h), size_, size_);
}

std::string Resize::describe() const { return str_cat("Resize(", size_, ")"); }

std::unique_ptr<Resize> resize_if_needed(const Dataset& dataset, int64_t size) {
  if (dataset.size() == 0) return nullptr;
  const Image first = dataset.image(0);
  return first.h == size && first.w == size ? nullptr : std::make_unique<Resize>(size);
}

// ---- RandomResizedCrop -----------------------------------------------------------------------------------

RandomResizedCrop::RandomResizedCrop(int64_t size, std::pair<double, double> scale,
                                     std::pair<double, double> ratio)
    : size_(size), scale_(scale), ratio_(ratio) {
  SSL_CHECK(size > 0, "RandomResizedCrop: size must be positive, got ", size);
  SSL_CHECK(scale.first > 0 && scale.first <= scale.second && scale.second <= 1,
            "RandomResizedCrop: scale must satisfy 0 < min <= max <= 1, got (", scale.first, ", ",
            scale.second, ")");
  SSL_CHECK(ratio.first > 0 && ratio.first <= ratio.second,
            "RandomResizedCrop: ratio must satisfy 0 < min <= max, got (", ratio.first, ", ", ratio.second,
            ")");
}

RandomResizedCrop::Box RandomResizedCrop::draw_box(int64_t in_h, int64_t in_w, rng::Stream& rng) const {
  const double area = double(in_h) * double(in_w);
  const double log_lo = std::log(ratio_.first), log_hi = std::log(ratio_.second);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * (scale_.first + (scale_.second - scale_.first) * rng.uniform());
    // Log-uniform, so that a ratio r and its inverse 1/r are equally likely.
    const double aspect = std::exp(log_lo + (log_hi - log_lo) * rng.uniform());
    const int64_t w = std::lround(std::sqrt(target * aspect));
    const int64_t h = std::lround(std::sqrt(target / aspect));
    if (w > 0 && w <= in_w && h > 0 && h <= in_h) {
      const int64_t y0 = rng.below(uint32_t(in_h - h + 1));
      const int64_t x0 = rng.below(uint32_t(in_w - w + 1));
      return {x0, y0, w, h};
    }
  }
  // Fallback: the whole image, narrowed to the nearest allowed aspect ratio, centred.
  const double in_ratio = double(in_w) / double(in_h);
  int64_t w = in_w, h = in_h;
  if (in_ratio < ratio_.first) {
    h = std::max<int64_t>(1, std::lround(double(w) / ratio_.first));
  } else if (in_ratio > ratio_.second) {
    w = std::max<int64_t>(1, std::lround(double(h) * ratio_.second));
  }
  return {(in_w - w) / 2, (in_h - h) / 2, w, h};
}

Image RandomResizedCrop::apply(const Image& in, rng::Stream& rng) const {
  SSL_CHECK(!in.empty(), "RandomResizedCrop: empty input image");
  const Box b = draw_box(in.h, in.w, rng);
  return resample(in, double(b.x0), double(b.y0), double(b.w), double(b.h), size_, size_);
}

std::string RandomResizedCrop::describe() const {
  return str_cat("RandomResizedCrop(", size_, ", scale=(", scale_.first, ", ", scale_.second, "), ratio=(",
                 ratio_.first, ", ", ratio_.second, "))");
}

// ---- RandomHorizontalFlip --------------------------------------------------------------------------------

RandomHorizontalFlip::RandomHorizontalFlip(double p) : p_(p) { check_probability(p, "RandomHorizontalFlip"); }

Image RandomHorizontalFlip::apply(const Image& in, rng::Stream& rng) const {
  return rng.bernoulli(float(p_)) ? flip_horizontal(in) : in;
}

std::string RandomHorizontalFlip::describe() const { return str_cat("RandomHorizontalFlip(p=", p_, ")"); }

// ---- ColorJitter -----------------------------------------------------------------------------------------

ColorJitter::ColorJitter(double brightness, double contrast, double saturation, double hue, double p)
    : brightness_(brightness), contrast_(contrast), saturation_(saturation), hue_(hue), p_(p) {
  SSL_CHECK(brightness >= 0 && contrast >= 0 && saturation >= 0,
            "ColorJitter: brightness, contrast and saturation must be >= 0, got ", brightness, ", ", contrast,
            ", ", saturation);
  SSL_CHECK(hue >= 0 && hue <= 0.5, "ColorJitter: hue must be in [0, 0.5], got ", hue);
  check_probability(p, "ColorJitter");
}

Image ColorJitter::apply(const Image& in, rng::Stream& rng) const {
  SSL_CHECK(in.c == 1 || in.c == 3, "ColorJitter: expected 1 or 3 channels, got ", in.c);
  if (!rng.bernoulli(float(p_))) return in;

  // Draw everything first, in a fixed order: the order of the four adjustments, then their factors.
  std::array<int, 4> order = {0, 1, 2, 3};
  for (int i = 3; i > 0; --i) std::swap(order[size_t(i)], order[rng.below(uint32_t(i + 1))]);
  // A factor uniform in [max(0, 1 - s), 1 + s]; strength 0 draws nothing and gives the identity.
  auto factor = [&rng](double s) -> float {
    if (s <= 0) return 1.f;
    const double lo = std::max(0.0, 1.0 - s), hi = 1.0 + s;
    return float(lo + (hi - lo) * double(rng.uniform()));
  };
  const float brightness = factor(brightness_);
  const float contrast = factor(contrast_);
  const float saturation = factor(saturation_);
  const float hue = hue_ > 0 ? rng.uniform(-float(hue_), float(hue_)) : 0.f;

  // Work in float [0, 1] so that rounding happens once, at the end. A grey (1-channel) image is treated as
  // R = G = B; saturation and hue leave grey unchanged, as they should.
  const int64_t n = in.h * in.w;
  std::vector<color::Rgb> px(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* p = &in.pixels[size_t(i * in.c)];
    const int64_t g = in.c == 3 ? 1 : 0, b = in.c == 3 ? 2 : 0;
    px[size_t(i)] = {p[0] / 255.f, p[g] / 255.f, p[b] / 255.f};
  }
  for (int op : order) {
    if (op == 0 && brightness_ > 0) {
      for (auto& p : px) p = color::adjust_brightness(p, brightness);
    } else if (op == 1 && contrast_ > 0) {
      double sum = 0;  // contrast blends towards the mean grey of the image as it is at this step
      for (const auto& p : px) sum += color::luma(p);
      const float mean = n > 0 ? float(sum / double(n)) : 0.f;
      for (auto& p : px) p = color::adjust_contrast(p, contrast, mean);
    } else if (op == 2 && saturation_ > 0) {
      for (auto& p : px) p = color::adjust_saturation(p, saturation);
    } else if (op == 3 && hue_ > 0) {
      for (auto& p : px) p = color::adjust_hue(p, hue);
    }
  }
  Image out(in.h, in.w, in.c);
  auto to_byte = [](float v) { return uint8_t(color::clamp01(v) * 255.f + 0.5f); };
  for (int64_t i = 0; i < n; ++i) {
    uint8_t* o = &out.pixels[size_t(i * in.c)];
    o[0] = to_byte(px[size_t(i)].r);
    if (in.c == 3) {
      o[1] = to_byte(px[size_t(i)].g);
      o[2] = to_byte(px[size_t(i)].b);
    }
  }
  return out;
}

std::string ColorJitter::describe() const {
  return str_cat("ColorJitter(brightness=", brightness_, ", contrast=", contrast_,
                 ", saturation=", saturation_, ", hue=", hue_, ", p=", p_, ")");
}

// ---- RandomGrayscale -------------------------------------------------------------------------------------

RandomGrayscale::RandomGrayscale(double p) : p_(p) { check_probability(p, "RandomGrayscale"); }

Image RandomGrayscale::apply(const Image& in, rng::Stream& rng) const {
  SSL_CHECK(in.c == 1 || in.c == 3, "RandomGrayscale: expected 1 or 3 channels, got ", in.c);
  if (!rng.bernoulli(float(p_)) || in.c == 1) return in;
  Image out(in.h, in.w, in.c);
  for (int64_t i = 0; i < in.h * in.w; ++i) {
    const uint8_t* p = &in.pixels[size_t(i * 3)];
    const float y = color::luma({float(p[0]), float(p[1]), float(p[2])});
    const uint8_t g = uint8_t(std::min(255.f, y + 0.5f));
    out.pixels[size_t(i * 3)] = out.pixels[size_t(i * 3 + 1)] = out.pixels[size_t(i * 3 + 2)] = g;
  }
  return out;
}

std::string RandomGrayscale::describe() const { return str_cat("RandomGrayscale(p=", p_, ")"); }

// ---- Compose ---------------------------------------------------------------------------------------------

Compose::Compose(std::vector<std::unique_ptr<Transform>> steps) {
  for (auto& s : steps) add(std::move(s));
}

Compose& Compose::add(std::unique_ptr<Transform> step) {
  SSL_CHECK(step != nullptr, "Compose::add: null transform");
  steps_.push_back(std::move(step));
  return *this;
}

Image Compose::apply(const Image& in, rng::Stream& rng) const {
  Image img = in;
  for (const auto& s : steps_) img = s->apply(img, rng);
  return img;
}

std::string Compose::describe() const {
  std::string s = "Compose(";
  for (size_t i = 0; i < steps_.size(); ++i) s += (i ? ", " : "") + steps_[i]->describe();
  return s + ")";
}

std::unique_ptr<Transform> simclr_augment(int64_t size, double min_scale, double colour_strength) {
  SSL_CHECK(colour_strength >= 0 && colour_strength <= 2.5,
            "simclr_augment: colour strength must be in [0, 2.5] (hue 0.2 s at most 0.5), got ",
            colour_strength);
  const double s = colour_strength;
  auto c = std::make_unique<Compose>();
  c->add(
      std::make_unique<RandomResizedCrop>(size, std::pair{min_scale, 1.0}, std::pair{3.0 / 4.0, 4.0 / 3.0}));
  c->add(std::make_unique<RandomHorizontalFlip>(0.5));
  c->add(std::make_unique<ColorJitter>(0.8 * s, 0.8 * s, 0.8 * s, 0.2 * s, 0.8));
  c->add(std::make_unique<RandomGrayscale>(0.2));
  // Blur helps from about 96 px up (SimCLR's CIFAR-10 setting leaves it out). It comes last, so that below
  // 96 px the pipeline and its draws stay exactly as they were.
  if (size >= 96) c->add(simclr_blur(size));
  return c;
}

std::unique_ptr<Transform> crop_flip_augment(int64_t size, double min_scale) {
  auto c = std::make_unique<Compose>();
  c->add(std::make_unique<RandomResizedCrop>(size, std::pair{min_scale, 1.0}));
  c->add(std::make_unique<RandomHorizontalFlip>(0.5));
  return c;
}

}  // namespace ssl::data
