#include "data/transforms_extra.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "kernels/common/color.h"

namespace ssl::data {
namespace {

uint8_t round_to_byte(float v) { return uint8_t(std::clamp(v, 0.f, 255.f) + 0.5f); }

// Reflects an index into [0, n) without repeating the edge (-1 -> 1, n -> n - 2), as torch's "reflect"
// padding, and keeps reflecting for offsets wider than the image.
int64_t reflect(int64_t i, int64_t n) {
  if (n == 1) return 0;
  const int64_t period = 2 * (n - 1);
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - i;
}

int64_t blur_kernel_size(int64_t kernel_size, double sigma) {
  return kernel_size > 0 ? kernel_size : 2 * int64_t(std::ceil(3.0 * sigma)) + 1;
}

}  // namespace

// ---- GaussianBlur ----------------------------------------------------------------------------------------

Image gaussian_blur(const Image& in, double sigma, int64_t kernel_size) {
  SSL_CHECK(sigma > 0 && sigma <= kMaxBlurSigma, "gaussian_blur: sigma must be in (0, ", kMaxBlurSigma,
            "], got ", sigma);
  SSL_CHECK(kernel_size == 0 || (kernel_size > 0 && kernel_size % 2 == 1),
            "gaussian_blur: kernel size must be odd and positive (or 0 for 2 ceil(3 sigma) + 1), got ",
            kernel_size);
  const int64_t k = blur_kernel_size(kernel_size, sigma), r = (k - 1) / 2;
  // torchvision's kernel: exp(-x^2 / (2 sigma^2)) at x = -r..r, normalised to sum 1.
  std::vector<float> wt(static_cast<size_t>(k));
  double sum = 0;
  for (int64_t t = 0; t < k; ++t) {
    const double x = double(t - r) / sigma;
    wt[size_t(t)] = float(std::exp(-0.5 * x * x));
    sum += wt[size_t(t)];
  }
  for (auto& v : wt) v = float(v / sum);
  if (in.empty()) return in;

  const int64_t h = in.h, w = in.w, c = in.c;
  std::vector<float> tmp(static_cast<size_t>(in.numel()));  // after the horizontal pass, before rounding
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      for (int64_t ch = 0; ch < c; ++ch) {
        float acc = 0.f;
        for (int64_t t = 0; t < k; ++t) acc += wt[size_t(t)] * float(in(y, reflect(x + t - r, w), ch));
        tmp[size_t(in.index(y, x, ch))] = acc;
      }
    }
  }
  Image out(h, w, c);
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      for (int64_t ch = 0; ch < c; ++ch) {
        float acc = 0.f;
        for (int64_t t = 0; t < k; ++t) {
          acc += wt[size_t(t)] * tmp[size_t(in.index(reflect(y + t - r, h), x, ch))];
        }
        out(y, x, ch) = round_to_byte(acc);
      }
    }
  }
  return out;
}

GaussianBlur::GaussianBlur(int64_t kernel_size, std::pair<double, double> sigma, double p)
    : kernel_size_(kernel_size), sigma_(sigma), p_(p) {
  SSL_CHECK(kernel_size == 0 || (kernel_size > 0 && kernel_size % 2 == 1),
            "GaussianBlur: kernel size must be odd and positive (or 0 for 2 ceil(3 sigma) + 1), got ",
            kernel_size);
  SSL_CHECK(sigma.first > 0 && sigma.first <= sigma.second && sigma.second <= kMaxBlurSigma,
            "GaussianBlur: sigma must satisfy 0 < min <= max <= ", kMaxBlurSigma, ", got (", sigma.first,
            ", ", sigma.second, ")");
  check_probability(p, "GaussianBlur");
}

Image GaussianBlur::apply(const Image& in, rng::Stream& rng) const {
  if (!rng.bernoulli(float(p_))) return in;
  const double sigma = sigma_.first + (sigma_.second - sigma_.first) * double(rng.uniform());
  return gaussian_blur(in, sigma, kernel_size_);
}

std::string GaussianBlur::describe() const {
  return str_cat("GaussianBlur(kernel_size=", kernel_size_, ", sigma=(", sigma_.first, ", ", sigma_.second,
                 "), p=", p_, ")");
}

std::unique_ptr<Transform> simclr_blur(int64_t size) {
  SSL_CHECK(size > 0, "simclr_blur: size must be positive, got ", size);
  int64_t k = std::max<int64_t>(3, size / 10);
  if (k % 2 == 0) ++k;
  return std::make_unique<GaussianBlur>(k, std::pair{0.1, 2.0}, 0.5);
}

// ---- Rotations -------------------------------------------------------------------------------------------

Image rotate90(const Image& in, int k) {
  k = ((k % 4) + 4) % 4;
  if (k == 0) return in;
  const int64_t h = in.h, w = in.w, c = in.c;
  Image out = k == 2 ? Image(h, w, c) : Image(w, h, c);
  for (int64_t y = 0; y < out.h; ++y) {
    for (int64_t x = 0; x < out.w; ++x) {
      // The source pixel of out(y, x): a transpose and/or a flip, nothing interpolated.
      int64_t sy, sx;
      if (k == 1) {
        sy = x, sx = w - 1 - y;
      } else if (k == 2) {
        sy = h - 1 - y, sx = w - 1 - x;
      } else {
        sy = h - 1 - x, sx = y;
      }
      for (int64_t ch = 0; ch < c; ++ch) out(y, x, ch) = in(sy, sx, ch);
    }
  }
  return out;
}

std::array<Image, 4> all_rotations(const Image& in) {
  return {in, rotate90(in, 1), rotate90(in, 2), rotate90(in, 3)};
}

Rotate90::Rotate90(int k) : k_(((k % 4) + 4) % 4) {}

Image Rotate90::apply(const Image& in, rng::Stream&) const { return rotate90(in, k_); }

std::string Rotate90::describe() const { return str_cat("Rotate90(k=", k_, ")"); }

// ---- ToGrayscale -----------------------------------------------------------------------------------------

ToGrayscale::ToGrayscale(int channels) : channels_(channels) {
  SSL_CHECK(channels == 1 || channels == 3, "ToGrayscale: channels must be 1 or 3, got ", channels);
}

Image ToGrayscale::apply(const Image& in, rng::Stream&) const {
  SSL_CHECK(in.c == 1 || in.c == 3, "ToGrayscale: expected 1 or 3 channels, got ", in.c);
  Image out(in.h, in.w, channels_);
  for (int64_t i = 0; i < in.h * in.w; ++i) {
    const uint8_t* p = &in.pixels[size_t(i * in.c)];
    uint8_t g = p[0];
    if (in.c == 3) g = round_to_byte(color::luma({float(p[0]), float(p[1]), float(p[2])}));
    for (int64_t ch = 0; ch < channels_; ++ch) out.pixels[size_t(i * channels_ + ch)] = g;
  }
  return out;
}

std::string ToGrayscale::describe() const { return str_cat("ToGrayscale(channels=", channels_, ")"); }

// ---- Crops -----------------------------------------------------------------------------------------------

Image crop(const Image& in, int64_t y0, int64_t x0, int64_t h, int64_t w) {
  // h <= in.h - y0, not y0 + h <= in.h: the sum of two huge values wraps around.
  SSL_CHECK(
      h >= 0 && w >= 0 && y0 >= 0 && x0 >= 0 && y0 <= in.h && x0 <= in.w && h <= in.h - y0 && w <= in.w - x0,
      "crop: the box ", h, "x", w, " at (y ", y0, ", x ", x0, ") does not lie inside the ", in.h, "x", in.w,
      " image");
  Image out(h, w, in.c);
  const size_t row = size_t(w * in.c);
  for (int64_t y = 0; y < h; ++y) {
    if (row == 0) break;
    std::copy_n(&in.pixels[size_t(in.index(y0 + y, x0, 0))], row, &out.pixels[size_t(out.index(y, 0, 0))]);
  }
  return out;
}

CenterCrop::CenterCrop(int64_t h, int64_t w) : h_(h), w_(w) {
  SSL_CHECK(h > 0 && w > 0, "CenterCrop: size must be positive, got ", h, "x", w);
}

Image CenterCrop::apply(const Image& in, rng::Stream&) const {
  SSL_CHECK(h_ <= in.h && w_ <= in.w, "CenterCrop: cannot cut ", h_, "x", w_, " from a ", in.h, "x", in.w,
            " image");
  return crop(in, (in.h - h_) / 2, (in.w - w_) / 2, h_, w_);
}

std::string CenterCrop::describe() const { return str_cat("CenterCrop(", h_, "x", w_, ")"); }

// ---- Masked region ---------------------------------------------------------------------------------------

namespace {

std::vector<uint8_t> fill_bytes(const std::vector<float>& fill, int64_t c) {
  SSL_CHECK(fill.empty() || fill.size() == 1 || int64_t(fill.size()) == c, "mask_region: fill has ",
            fill.size(), " values for a ", c, "-channel image (expected 0, 1 or ", c, ")");
  std::vector<uint8_t> bytes(size_t(c), 0);
  for (int64_t ch = 0; ch < c; ++ch) {
    if (fill.empty()) break;
    const float v = fill.size() == 1 ? fill[0] : fill[size_t(ch)];
    SSL_CHECK(v >= 0.f && v <= 1.f, "mask_region: fill values must be in [0, 1], got ", v);
    bytes[size_t(ch)] = uint8_t(std::lround(255.0 * double(v)));
  }
  return bytes;
}

// Marks the side x side square at (y0, x0) in the loss region and the square shrunk by `overlap` in mask.
void mark_square(MaskedImage& m, int64_t y0, int64_t x0, int64_t side, int64_t overlap) {
  const int64_t w = m.image.w;
  for (int64_t y = y0; y < y0 + side; ++y) {
    for (int64_t x = x0; x < x0 + side; ++x) {
      m.loss_region[size_t(y * w + x)] = 1;
      const bool inner =
          y >= y0 + overlap && y < y0 + side - overlap && x >= x0 + overlap && x < x0 + side - overlap;
      if (inner) m.mask[size_t(y * w + x)] = 1;
    }
  }
}

int64_t resolve_overlap(int64_t overlap, int64_t side) {
  const int64_t ov = overlap >= 0 ? overlap : std::lround(double(side) / 16.0);
  SSL_CHECK(2 * ov < side, "mask_region: an overlap of ", ov, " px leaves nothing hidden in a ", side,
            " px square (need 2 * overlap < side)");
  return ov;
}

}  // namespace

void check_mask_options(const MaskOptions& o) {
  SSL_CHECK(o.overlap >= -1, "mask_region: overlap must be -1 (side / 16) or at least 0 pixels, got ",
            o.overlap);
  if (o.mode == MaskOptions::Mode::centre) {
    SSL_CHECK(o.hole_fraction > 0 && o.hole_fraction <= 1,
              "mask_region: hole_fraction must be in (0, 1], got ", o.hole_fraction);
  } else {
    SSL_CHECK(o.block_fraction > 0 && o.block_fraction <= 1,
              "mask_region: block_fraction must be in (0, 1], got ", o.block_fraction);
    SSL_CHECK(o.coverage > 0 && o.coverage <= 1, "mask_region: coverage must be in (0, 1], got ", o.coverage);
    SSL_CHECK(o.max_blocks > 0, "mask_region: max_blocks must be positive, got ", o.max_blocks);
  }
}

MaskedImage mask_region(const Image& in, const MaskOptions& o, rng::Stream& rng) {
  SSL_CHECK(!in.empty(), "mask_region: empty input image");
  check_mask_options(o);
  const std::vector<uint8_t> fill = fill_bytes(o.fill, in.c);
  const int64_t h = in.h, w = in.w, shorter = std::min(h, w);
  MaskedImage m;
  m.image = in;
  m.mask.assign(size_t(h * w), 0);
  m.loss_region.assign(size_t(h * w), 0);

  if (o.mode == MaskOptions::Mode::centre) {
    const int64_t side = std::max<int64_t>(1, std::lround(o.hole_fraction * double(shorter)));
    m.overlap = resolve_overlap(o.overlap, side);
    mark_square(m, (h - side) / 2, (w - side) / 2, side, m.overlap);
  } else {
    const int64_t side = std::max<int64_t>(1, std::lround(o.block_fraction * double(shorter)));
    m.overlap = resolve_overlap(o.overlap, side);
    // Blocks land independently, so max_blocks of them cover 1 - (1 - a)^max_blocks of the image on average
    // (a: one block's share). A coverage beyond that would be silently cut short by the cap: refused.
    const double share = double(side * side) / double(h * w);
    const double expected = 1 - std::pow(1 - share, double(o.max_blocks));
    SSL_CHECK(expected >= o.coverage, "mask_region: ", o.max_blocks, " blocks of ", side, " px cover about ",
              std::lround(100 * expected), "% of a ", h, "x", w, " image on average, short of the coverage ",
              o.coverage,
              "; raise the block fraction (--block-fraction) or lower the coverage (--mask-coverage)");
    const double target = o.coverage * double(h * w);
    int64_t covered = 0;
    for (int64_t b = 0; b < o.max_blocks && double(covered) < target; ++b) {
      const int64_t y0 = rng.below(uint32_t(h - side + 1));
      const int64_t x0 = rng.below(uint32_t(w - side + 1));
      mark_square(m, y0, x0, side, m.overlap);
      covered = std::count(m.loss_region.begin(), m.loss_region.end(), uint8_t(1));
    }
  }
  for (int64_t i = 0; i < h * w; ++i) {
    if (!m.mask[size_t(i)]) continue;
    for (int64_t ch = 0; ch < in.c; ++ch) m.image.pixels[size_t(i * in.c + ch)] = fill[size_t(ch)];
  }
  return m;
}

MaskRegion::MaskRegion(MaskOptions options) : options_(std::move(options)) {}

Image MaskRegion::apply(const Image& in, rng::Stream& rng) const {
  return mask_region(in, options_, rng).image;
}

std::string MaskRegion::describe() const {
  const MaskOptions& o = options_;
  if (o.mode == MaskOptions::Mode::centre) {
    return str_cat("MaskRegion(centre, hole=", o.hole_fraction, ", overlap=", o.overlap, ")");
  }
  return str_cat("MaskRegion(random_blocks, block=", o.block_fraction, ", coverage=", o.coverage,
                 ", max_blocks=", o.max_blocks, ", overlap=", o.overlap, ")");
}

// ---- Patch grid ------------------------------------------------------------------------------------------

PatchGrid::PatchGrid(PatchGridOptions options) : options_(options) {
  SSL_CHECK(options.patch >= 0, "PatchGrid: patch must be >= 0 (0 = scaled to the image), got ",
            options.patch);
  SSL_CHECK(options.patch == 0 || (options.gap >= 0 && options.jitter >= 0),
            "PatchGrid: gap and jitter must be >= 0, got ", options.gap, " and ", options.jitter);
}

patch::GridParams PatchGrid::params(int64_t h, int64_t w) const {
  constexpr int64_t kMax = std::numeric_limits<int>::max() / 8;
  SSL_CHECK(
      h <= kMax && w <= kMax && options_.patch <= kMax && options_.gap <= kMax && options_.jitter <= kMax,
      "PatchGrid: sizes must be at most ", kMax, ", got image ", h, "x", w, ", patch ", options_.patch,
      ", gap ", options_.gap, ", jitter ", options_.jitter);
  const patch::GridParams p =
      options_.patch == 0 ? patch::scaled_params(int(std::min(h, w)))
                          : patch::GridParams{int(options_.patch), int(options_.gap), int(options_.jitter)};
  SSL_CHECK(patch::grid_fits(p, int(h), int(w)), "PatchGrid: a grid of 3 patches of ", p.patch,
            " px, gaps of ", p.gap, " px and jitter +-", p.jitter, " px needs ", patch::grid_extent(p), "x",
            patch::grid_extent(p), " px, more than the ", h, "x", w, " image");
  return p;
}

PatchGridSample PatchGrid::grid(const Image& in, rng::Stream& rng) const {
  const patch::GridParams p = params(in.h, in.w);
  uint32_t words[patch::kDrawsPerGrid];
  for (uint32_t& word : words) word = rng.next_u32();
  PatchGridSample s;
  for (int cell = 0; cell < patch::kCells; ++cell) {
    const patch::Offset o = patch::patch_offset(p, int(in.h), int(in.w), cell, words);
    s.offsets[size_t(cell)] = o;
    s.patches[size_t(cell)] = crop(in, o.y, o.x, p.patch, p.patch);
  }
  return s;
}

PatchPair PatchGrid::pair(const Image& in, rng::Stream& rng) const {
  PatchPair pp;
  pp.grid = grid(in, rng);
  pp.label = int64_t(rng.below(patch::kNeighbours));
  pp.anchor = pp.grid.patches[patch::kCentreCell];
  pp.query = pp.grid.patches[size_t(patch::neighbour_cell(int(pp.label)))];
  return pp;
}

std::string PatchGrid::describe() const {
  if (options_.patch == 0) return "PatchGrid(scaled to the image)";
  return str_cat("PatchGrid(patch=", options_.patch, ", gap=", options_.gap, ", jitter=", options_.jitter,
                 ")");
}

}  // namespace ssl::data
