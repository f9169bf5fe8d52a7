#include "data/synthetic.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "core/error.h"
#include "kernels/common/philox.h"

namespace ssl::data {
namespace {

constexpr float kPi = 3.14159265358979f;

// Label order. Three classes point one way (triangle, tee, dome) and the stripes run one way, so that a
// rotation-prediction pretext task has something to find (the other six are unchanged by a quarter turn);
// all are unchanged by a horizontal flip, so a flip never changes the class.
const std::array<const char*, SyntheticDataset::kClasses> kClassNames = {
    "disc", "ring", "square", "triangle", "plus", "cross", "tee", "dome", "stripes", "checker"};
// The transfer domain has a diamond where the source has the checkerboard (shape 10 of `inside`), as STL-10
// has a monkey where CIFAR-10 has a frog: a class the source's probe has never seen, left out by name.
constexpr int64_t kSwappedLabel = 9, kDiamondShape = 10;

// One image's object. Shapes are defined in the object's own frame (u, v), in which the object spans
// [-1, 1]^2 with v pointing down; `radius` pixels make one unit. One `inside` test then serves every
// position, size and tilt.
struct Object {
  int64_t cls = 0;
  float cx = 0, cy = 0, radius = 1, cos_t = 1, sin_t = 0;
  float stroke = 0.3f;  // line width of outlines and bars, in object units
  float period = 0.5f;  // texture period of stripes and checker, in object units
  float phase = 0;      // texture offset, in periods
};

bool inside(const Object& o, float u, float v) {
  const float au = std::fabs(u), av = std::fabs(v);
  const float box = std::max(au, av);  // 1 on the boundary of the unit square
  const float half = o.stroke * 0.5f;
  switch (o.cls) {
    case 0:
      return u * u + v * v <= 1.f;  // disc
    case 1: {                       // ring
      const float r = std::sqrt(u * u + v * v);
      return r <= 1.f && r >= 1.f - o.stroke;
    }
    case 2:
      return box <= 1.f && box >= 1.f - o.stroke;  // square outline
    case 3:
      return v <= 0.75f && au <= (v + 1.f) / 1.75f;  // filled triangle, apex up
    case 4:
      return box <= 1.f && (au <= half || av <= half);  // plus
    case 5: {                                           // cross: the plus turned by 45 degrees
      const float p = (u + v) * 0.70710678f, q = (u - v) * 0.70710678f;
      return std::max(std::fabs(p), std::fabs(q)) <= 1.f && (std::fabs(p) <= half || std::fabs(q) <= half);
    }
    case 6:  // tee: a bar along the top and a stem down the middle
      return v >= -1.f && v <= 1.f && ((v <= -1.f + o.stroke && au <= 1.f) || au <= half);
    case 7: {  // dome: the upper half of an ellipse, flat side down
      const float e = (v - 0.5f) / 1.5f;
      return v <= 0.5f && u * u + e * e <= 1.f;
    }
    case 8: {  // horizontal stripes filling the square
      const float t = (v + 1.f) / o.period + o.phase;
      return box <= 1.f && t - std::floor(t) < 0.5f;
    }
    case 9: {  // checkerboard filling the square
      const int64_t a = int64_t(std::floor((u + 1.f) / o.period + o.phase));
      const int64_t b = int64_t(std::floor((v + 1.f) / o.period + o.phase));
      return box <= 1.f && ((a + b) & 1) == 0;
    }
    case kDiamondShape:  // filled diamond (transfer domain only)
      return au + av <= 1.f;
  }
  return false;
}

// Fraction of pixel (x, y) covered by the object, from 3x3 samples (anti-aliased edges).
float coverage(const Object& o, int x, int y) {
  constexpr int kSub = 3;
  int hits = 0;
  for (int sy = 0; sy < kSub; ++sy) {
    for (int sx = 0; sx < kSub; ++sx) {
      const float dx = float(x) + (float(sx) + 0.5f) / kSub - o.cx;
      const float dy = float(y) + (float(sy) + 0.5f) / kSub - o.cy;
      const float u = (dx * o.cos_t + dy * o.sin_t) / o.radius;
      const float v = (-dx * o.sin_t + dy * o.cos_t) / o.radius;
      hits += inside(o, u, v) ? 1 : 0;
    }
  }
  return float(hits) / float(kSub * kSub);
}

float luma(const std::array<float, 3>& c) { return 0.299f * c[0] + 0.587f * c[1] + 0.114f * c[2]; }

// Foreground and background colours, uniform in RGB, redrawn until they differ clearly in colour and in
// brightness (so the shape survives grayscale). The condition is symmetric in (fg, bg), so both keep the
// same distribution and per-class mean colours stay equal.
void draw_colours(rng::Stream& rs, std::array<float, 3>& fg, std::array<float, 3>& bg) {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    for (int ch = 0; ch < 3; ++ch) fg[ch] = rs.uniform(0.f, 255.f);
    for (int ch = 0; ch < 3; ++ch) bg[ch] = rs.uniform(0.f, 255.f);
    float d2 = 0;
    for (int ch = 0; ch < 3; ++ch) d2 += (fg[ch] - bg[ch]) * (fg[ch] - bg[ch]);
    if (d2 >= 100.f * 100.f && std::fabs(luma(fg) - luma(bg)) >= 40.f) return;
  }
  for (int ch = 0; ch < 3; ++ch) bg[ch] = 255.f - fg[ch];  // practically never reached
}

// Lengths below are in pixels of a 32-pixel picture; `scale` turns them into pixels of this one.
Object draw_object(rng::Stream& rs, int64_t cls, int size) {
  const float scale = float(size) / 32.f;
  Object o;
  o.cls = cls;
  o.radius = rs.uniform(7.f, 13.f) * scale;  // the object is 14 to 26 pixels across
  const float margin = std::max(0.f, size * 0.5f - o.radius - scale);
  o.cx = size * 0.5f + rs.uniform(-margin, margin);
  o.cy = size * 0.5f + rs.uniform(-margin, margin);
  const float tilt = rs.uniform(-15.f, 15.f) * kPi / 180.f;  // small: a plus must not become a cross
  o.cos_t = std::cos(tilt);
  o.sin_t = std::sin(tilt);
  o.stroke = rs.uniform(2.5f, 4.5f) * scale / o.radius;  // pixels -> object units
  o.period = rs.uniform(5.f, 9.f) * scale / o.radius;
  o.phase = rs.uniform();
  return o;
}

}  // namespace

SyntheticDataset::SyntheticDataset(Split split, int64_t count, uint64_t seed, Domain domain)
    : split_(split), domain_(domain), seed_(seed) {
  SSL_CHECK(split == Split::train || split == Split::test, "synthetic: no split '", split_name(split),
            "' (it has train and test)");
  SSL_CHECK(domain == Domain::source || split == Split::test,
            "synthetic: the transfer domain is a test set only, not a '", split_name(split), "' split");
  count_ = count >= 0 ? count : (split == Split::train ? kDefaultTrainSize : kDefaultTestSize);
}

int64_t SyntheticDataset::image_size() const { return domain_ == Domain::transfer ? 64 : 32; }

std::vector<std::string> SyntheticDataset::class_names() const {
  std::vector<std::string> names(kClassNames.begin(), kClassNames.end());
  if (domain_ == Domain::transfer) names[kSwappedLabel] = "diamond";
  return names;
}

int64_t SyntheticDataset::label(int64_t i) const {
  check_index(i, "label");
  return i % kClasses;
}

std::string SyntheticDataset::name() const {
  return str_cat("synthetic:", domain_ == Domain::transfer ? "transfer" : split_name(split_), " (", count_,
                 " images, seed ", seed_, ")");
}

Image SyntheticDataset::image(int64_t i) const {
  check_index(i, "image");
  const bool transfer = domain_ == Domain::transfer;
  // Each split draws from its own stream; the transfer domain from a fourth (3: after the Split values).
  rng::Stream rs(rng::mix64(seed_, transfer ? 3 : uint64_t(split_)), uint64_t(i));
  const int size = int(image_size());

  std::array<float, 3> fg, bg;
  draw_colours(rs, fg, bg);
  const int64_t label = i % kClasses;
  const Object obj = draw_object(rs, transfer && label == kSwappedLabel ? kDiamondShape : label, size);
  // A linear lighting gradient across the whole picture, in a random direction: faint in the source
  // domain, up to 64 levels from centre to edge in the transfer domain.
  const float grad_amp = rs.uniform(0.f, transfer ? 64.f : 24.f), grad_angle = rs.uniform(0.f, 2.f * kPi);
  const float gx = grad_amp * std::cos(grad_angle) / (size * 0.5f);
  const float gy = grad_amp * std::sin(grad_angle) / (size * 0.5f);
  const float noise = rs.uniform(2.f, 8.f);  // standard deviation of the pixel noise

  Image img(size, size, 3);
  const float reach =
      obj.radius * 1.5f;  // beyond this no shape has any pixel (the unit square's corner is 1.41)
  for (int y = 0; y < size; ++y) {
    for (int x = 0; x < size; ++x) {
      const bool near = std::fabs(x + 0.5f - obj.cx) <= reach && std::fabs(y + 0.5f - obj.cy) <= reach;
      const float a = near ? coverage(obj, x, y) : 0.f;
      const float light = gx * (x + 0.5f - size * 0.5f) + gy * (y + 0.5f - size * 0.5f);
      for (int ch = 0; ch < 3; ++ch) {
        // Triangular noise, the sum of two uniforms taken from the two halves of one random word (one
        // draw per value keeps generation cheap); its variance is 1/6, rescaled to `noise`.
        const uint32_t bits = rs.next_u32();
        const float n = (float((bits & 0xFFFFu) + (bits >> 16)) / 65536.f - 1.f) * 2.449490f * noise;
        const float value = a * fg[ch] + (1.f - a) * bg[ch] + light + n;
        img(y, x, ch) = uint8_t(std::clamp(std::lround(value), 0L, 255L));
      }
    }
  }
  return img;
}

}  // namespace ssl::data
