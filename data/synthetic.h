// The built-in `synthetic` dataset: 32x32 RGB pictures of ten kinds of shape, drawn procedurally.
//
// What makes it useful for self-supervised learning: the class is carried only by shape and structure.
// Foreground and background colours are drawn independently of the class (and from the same
// distribution, so no class is brighter or redder on average); position, size, tilt, stroke width and
// texture period vary; a faint lighting gradient and pixel noise are added. A representation therefore
// has to capture shape to separate the classes, which is what a linear probe then measures.
//
// Image i of a split is a pure function of (seed, split, i): it is drawn from
// rng::Stream(mix64(seed, split), i), so it is reproducible and independent of the order of access, and
// nothing is stored: any size costs no memory.
//
// A second domain, `synthetic:transfer`, is the transfer test set of study A, shifted from the source as
// STL-10 is from CIFAR-10: drawn at 64x64 (an encoder trained at 32 sees it resized), with a lighting
// gradient up to 64 levels instead of 24, and a diamond where the source has the checkerboard (a class the
// source's probe cannot know, left out when classes are matched by name). Everything else is drawn as in the
// source.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace ssl::data {

class SyntheticDataset final : public Dataset {
 public:
  static constexpr int64_t kClasses = 10;
  static constexpr int64_t kDefaultTrainSize = 10000;
  static constexpr int64_t kDefaultTestSize = 2000;

  enum class Domain : uint8_t { source, transfer };

  // `count` < 0 takes the split's default size (10,000 train, 2,000 test). Only train and test exist;
  // the two splits draw from different streams, so they share no image. The transfer domain has a test
  // split only, from a stream of its own.
  explicit SyntheticDataset(Split split = Split::train, int64_t count = -1, uint64_t seed = 0,
                            Domain domain = Domain::source);

  int64_t size() const override { return count_; }
  int64_t num_classes() const override { return kClasses; }
  std::vector<std::string> class_names() const override;
  Image image(int64_t i) const override;
  // Classes are balanced: label(i) = i % 10.
  int64_t label(int64_t i) const override;
  std::string name() const override;

  Split split() const { return split_; }
  uint64_t seed() const { return seed_; }
  int64_t image_size() const;  // 32, or 64 in the transfer domain

 private:
  Split split_;
  Domain domain_;
  int64_t count_;
  uint64_t seed_;
};

}  // namespace ssl::data
