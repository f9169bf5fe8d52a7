// Transforms: small objects that turn one uint8 HWC Image into another, drawing whatever randomness they
// need from the rng::Stream they are given. The loader gives every (epoch, sample, view) its own stream,
// so an augmented batch depends only on the seeds, never on which thread made it.
//
// Contract: apply() is const and keeps no state, so one Transform may be used by several threads at once.
// A transform draws from the stream in a fixed order given the values drawn, so the same stream state
// always gives the same output.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "data/image.h"
#include "kernels/common/philox.h"

namespace ssl::data {

class Dataset;

// Throws unless p is a probability (in [0, 1]); `who` names the transform in the message. For the random
// transforms' constructors, here and in data/transforms_extra.h.
void check_probability(double p, const char* who);

class Transform {
 public:
  virtual ~Transform() = default;
  virtual Image apply(const Image& in, rng::Stream& rng) const = 0;
  // One line for logs, e.g. "RandomHorizontalFlip(p=0.5)".
  virtual std::string describe() const = 0;
};

// Resizes the whole image to size x size (deterministic; for evaluation and for STL-10's 96 px).
class Resize final : public Transform {
 public:
  explicit Resize(int64_t size);
  Image apply(const Image& in, rng::Stream& rng) const override;
  std::string describe() const override;

 private:
  int64_t size_;
};

// A Resize to size x size for a dataset whose images have another size (STL-10's 96 px for an encoder of
// 32), judged by its first image; nullptr when they have that size already or the dataset is empty.
std::unique_ptr<Resize> resize_if_needed(const Dataset& dataset, int64_t size);

// Crops a random box covering `scale` of the area with aspect ratio (w/h) in `ratio` (drawn
// log-uniformly) and resizes it to size x size. After 10 boxes that do not fit it falls back to the
// largest centred box with an allowed ratio (torchvision's rule).
class RandomResizedCrop final : public Transform {
 public:
  explicit RandomResizedCrop(int64_t size, std::pair<double, double> scale = {0.08, 1.0},
                             std::pair<double, double> ratio = {3.0 / 4.0, 4.0 / 3.0});
  Image apply(const Image& in, rng::Stream& rng) const override;
  std::string describe() const override;

  struct Box {
    int64_t x0, y0, w, h;
  };
  // The box apply() crops, for an image of in_h x in_w (exposed for tests).
  Box draw_box(int64_t in_h, int64_t in_w, rng::Stream& rng) const;

 private:
  int64_t size_;
  std::pair<double, double> scale_, ratio_;
};

// Mirrors left-right with probability p.
class RandomHorizontalFlip final : public Transform {
 public:
  explicit RandomHorizontalFlip(double p = 0.5);
  Image apply(const Image& in, rng::Stream& rng) const override;
  std::string describe() const override;

 private:
  double p_;
};

// With probability p, adjusts brightness, contrast, saturation and hue in a random order. Factors are
// uniform in [max(0, 1 - x), 1 + x] for x = brightness, contrast, saturation, and the hue shift is uniform
// in [-hue, hue] turns (hue <= 0.5). A zero strength leaves that property unchanged. A grey (1-channel)
// image is treated as R = G = B and stays grey.
class ColorJitter final : public Transform {
 public:
  ColorJitter(double brightness, double contrast, double saturation, double hue, double p = 1.0);
  Image apply(const Image& in, rng::Stream& rng) const override;
  std::string describe() const override;

 private:
  double brightness_, contrast_, saturation_, hue_, p_;
};

// With probability p, replaces each pixel by its luma in all channels (keeps 3 channels).
class RandomGrayscale final : public Transform {
 public:
  explicit RandomGrayscale(double p = 0.1);
  Image apply(const Image& in, rng::Stream& rng) const override;
  std::string describe() const override;

 private:
  double p_;
};

// Applies its steps in order, all drawing from the same stream.
class Compose final : public Transform {
 public:
  Compose() = default;
  explicit Compose(std::vector<std::unique_ptr<Transform>> steps);
  Compose& add(std::unique_ptr<Transform> step);
  Image apply(const Image& in, rng::Stream& rng) const override;
  std::string describe() const override;
  size_t size() const { return steps_.size(); }

 private:
  std::vector<std::unique_ptr<Transform>> steps_;
};

// SimCLR's augmentation (see ../shared/ALGORITHMS.md): RandomResizedCrop(size, scale min_scale-1, ratio
// 3/4-4/3), horizontal flip p=0.5, colour jitter of strength s with p=0.8 (SimCLR's parametrisation:
// brightness, contrast and saturation 0.8 s, hue 0.2 s; s = 0.5 gives (0.4, 0.4, 0.4, 0.1)), grayscale p=0.2,
// then from size 96 up a Gaussian blur with p=0.5 (simclr_blur in data/transforms_extra.h). No blur below 96
// px, where it does not help.
std::unique_ptr<Transform> simclr_augment(int64_t size, double min_scale = 0.08,
                                          double colour_strength = 0.5);

// The light augmentation of supervised training and rotation prediction: RandomResizedCrop(size, area
// min_scale-1, ratio 3/4-4/3) and a horizontal flip with p = 0.5.
std::unique_ptr<Transform> crop_flip_augment(int64_t size, double min_scale = 0.5);

}  // namespace ssl::data
