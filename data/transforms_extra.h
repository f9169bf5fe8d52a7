// More transforms: Gaussian blur (simclr_augment's from 96 px up), grayscale and centre crop, and, on single
// images, the geometry of the pretext tasks beyond SimCLR: exact quarter-turn rotations, the context
// encoder's masked region (which ssl::ContextEncoder draws with mask_region) and relative patch position's
// 3x3 grid. Rotation and patch work on whole batches (ssl::rotate90; patch_crop on the grid of
// ssl::patch_grid_params): the rotations and the grid here are their references on one image, which the
// tests compare them with. Same contract as data/transforms.h: apply()
// is const, keeps no state and draws its randomness only from the stream it is given, in a fixed order.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "data/image.h"
#include "data/transforms.h"
#include "kernels/common/patch_grid.h"
#include "kernels/common/philox.h"

namespace ssl::data {

// ---- Gaussian blur ---------------------------------------------------------------------------------------

// The largest blur sigma taken (6001 taps): wider only costs more, as reflected borders make a blur wider
// than the image average it out, and an infinite sigma would ask for a kernel that does not fit in memory.
inline constexpr double kMaxBlurSigma = 1000;

// With probability p, blurs with a Gaussian whose sigma is uniform in [sigma.first, sigma.second], as
// torchvision's GaussianBlur: a separable kernel of kernel_size taps (odd) at integer offsets, normalised to
// sum 1, with reflected borders (-1 -> 1). kernel_size 0 takes 2 ceil(3 sigma) + 1 taps for the drawn sigma.
// Draws: bernoulli(p), then sigma (only when blurring).
class GaussianBlur final : public Transform {
 public:
  explicit GaussianBlur(int64_t kernel_size, std::pair<double, double> sigma = {0.1, 2.0}, double p = 0.5);
  Image apply(const Image& in, rng::Stream& rng) const override;
  std::string describe() const override;

 private:
  int64_t kernel_size_;
  std::pair<double, double> sigma_;
  double p_;
};

// Blurs with a fixed sigma (deterministic; kernel_size as above).
Image gaussian_blur(const Image& in, double sigma, int64_t kernel_size = 0);

// SimCLR's blur for size x size images: kernel 10% of the size (made odd), sigma 0.1-2.0, p = 0.5.
std::unique_ptr<Transform> simclr_blur(int64_t size);

// ---- Rotations, grayscale, centre crop -------------------------------------------------------------------

// Exact rotation by k quarter turns counter-clockwise (k taken mod 4, negative allowed), as numpy's
// rot90(img, k): pixels are moved, never interpolated. An h x w image becomes w x h for odd k.
Image rotate90(const Image& in, int k);

// The four rotations of an image: {0, 90, 180, 270} degrees counter-clockwise (rotation labels 0..3).
std::array<Image, 4> all_rotations(const Image& in);

// rotate90 as a transform with a fixed k (draws nothing).
class Rotate90 final : public Transform {
 public:
  explicit Rotate90(int k);
  Image apply(const Image& in, rng::Stream& rng) const override;
  std::string describe() const override;

 private:
  int k_;
};

// Replaces each pixel by its ITU-R 601-2 luma (rounded, as RandomGrayscale), keeping 3 channels (channels =
// 3) or giving a 1-channel image (channels = 1). Takes 1- or 3-channel input. Draws nothing.
class ToGrayscale final : public Transform {
 public:
  explicit ToGrayscale(int channels = 3);
  Image apply(const Image& in, rng::Stream& rng) const override;
  std::string describe() const override;

 private:
  int channels_;
};

// Copies the h x w box at (y0, x0); the box must lie inside the image (ssl::Error otherwise).
Image crop(const Image& in, int64_t y0, int64_t x0, int64_t h, int64_t w);

// Cuts the centred h x w box, its top-left corner at ((H - h) / 2, (W - w) / 2) rounded down. Throws
// ssl::Error when the box is larger than the image (no padding). Draws nothing.
class CenterCrop final : public Transform {
 public:
  explicit CenterCrop(int64_t size) : CenterCrop(size, size) {}
  CenterCrop(int64_t h, int64_t w);
  Image apply(const Image& in, rng::Stream& rng) const override;
  std::string describe() const override;

 private:
  int64_t h_, w_;
};

// ---- Masked region (context encoder) ---------------------------------------------------------------------

struct MaskOptions {
  enum class Mode { centre, random_blocks };
  Mode mode = Mode::centre;
  // centre: one square hole of side round(hole_fraction * min(h, w)), centred (the original: 64 of 128).
  double hole_fraction = 0.5;
  // random_blocks: square blocks of side round(block_fraction * min(h, w)) at uniform positions (they may
  // overlap), added until the hole covers at least `coverage` of the image or max_blocks are placed (a
  // coverage that max_blocks blocks do not reach on average is refused).
  double block_fraction = 0.25;
  double coverage = 0.25;
  int64_t max_blocks = 64;
  // The encoder's mask is the hole shrunk by `overlap` pixels on every side (per block), so the encoder
  // sees a rim of the region the loss is computed on. -1: round(hole side / 16), the original's 4 of 64.
  int64_t overlap = -1;
  // The fill of the hidden pixels, per channel in [0, 1] (the dataset mean): empty = 0, one value for
  // every channel, or one per channel. Stored as the byte round(255 * v).
  std::vector<float> fill = {};
};

// Throws ssl::Error naming the first option out of its range (the fractions of the mode in use in (0, 1]).
void check_mask_options(const MaskOptions& o);

struct MaskedImage {
  Image image;                       // the input with the encoder's mask filled
  std::vector<uint8_t> mask;         // h * w, 1 = hidden from the encoder (filled with the fill value)
  std::vector<uint8_t> loss_region;  // h * w, 1 = in the hole the loss is computed on (contains mask)
  int64_t overlap = 0;               // the overlap used: loss_region minus mask is a band this wide
  // Whether pixel (y, x) is in the overlap band (in the loss region but visible to the encoder); the
  // original weights the loss there x10.
  bool in_overlap_band(int64_t y, int64_t x) const {
    const size_t i = size_t(y * image.w + x);
    return loss_region[i] && !mask[i];
  }
};

// Hides a region of `in`. Centre mode draws nothing; random blocks draw (y, x) per block, via below().
MaskedImage mask_region(const Image& in, const MaskOptions& options, rng::Stream& rng);

// mask_region as a transform: returns only the masked image (same draws, so the same stream state gives
// the same hole as mask_region).
class MaskRegion final : public Transform {
 public:
  explicit MaskRegion(MaskOptions options);
  Image apply(const Image& in, rng::Stream& rng) const override;
  std::string describe() const override;
  const MaskOptions& options() const { return options_; }

 private:
  MaskOptions options_;
};

// ---- Patch grid (relative patch position) ----------------------------------------------------------------

// The geometry is in kernels/common/patch_grid.h. patch = 0: patch, gap and jitter are all scaled from the
// image's shorter side by patch::scaled_params; otherwise the three are used as given (gap, jitter >= 0).
struct PatchGridOptions {
  int64_t patch = 0;
  int64_t gap = 0;
  int64_t jitter = 0;
};

struct PatchGridSample {
  std::array<Image, patch::kCells> patches;          // row-major; patches[patch::kCentreCell] is the anchor
  std::array<patch::Offset, patch::kCells> offsets;  // top-left corner of each patch in the input
};

struct PatchPair {
  Image anchor;          // the centre patch
  Image query;           // one of the eight neighbours
  int64_t label = 0;     // 0..7: the neighbour's position (patch::neighbour_cell(label) is its cell)
  PatchGridSample grid;  // the whole grid it came from
};

class PatchGrid {
 public:
  explicit PatchGrid(PatchGridOptions options = {});
  // The parameters used for an h x w image; throws ssl::Error when the grid does not fit.
  patch::GridParams params(int64_t h, int64_t w) const;
  // Draws patch::kDrawsPerGrid words, then cuts the nine patches.
  PatchGridSample grid(const Image& in, rng::Stream& rng) const;
  // grid(), then the neighbour's label with below(8).
  PatchPair pair(const Image& in, rng::Stream& rng) const;
  std::string describe() const;

 private:
  PatchGridOptions options_;
};

}  // namespace ssl::data
