// LabelSubset: a label budget. From a labelled dataset it keeps N images per class, drawn with a seed
// (the "labelled" part), or everything else with the labels hidden (the "rest", an unlabelled pool for
// semi-supervised training). The two parts of one (base, N, seed) never share an image and together cover
// the base dataset.
//
// The draw is deterministic and needs no state: class k's images (base indices in ascending order) are
// shuffled by a Fisher-Yates pass drawing from rng::Stream(seed, k), and the first N are kept. The first N
// positions of that pass do not depend on N, so budgets are nested: the 10 per class of a seed are among its
// 20 per class. Both parts list their images in ascending base order.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace ssl::data {

class LabelSubset final : public Dataset {
 public:
  enum class Part : uint8_t { labelled = 0, rest = 1 };

  // Throws ssl::Error when per_class < 1, the base has no classes, a base label is outside
  // [-1, num_classes), or a class has fewer than per_class images (naming the class and its count).
  // Images of the base that are already unlabelled (-1) are never picked and go to the rest.
  LabelSubset(std::shared_ptr<const Dataset> base, int64_t per_class, uint64_t seed = 0,
              Part part = Part::labelled);

  int64_t size() const override { return int64_t(indices_.size()); }
  // The base's classes, for both parts (the rest keeps the class space, only its labels are hidden).
  int64_t num_classes() const override { return base_->num_classes(); }
  std::vector<std::string> class_names() const override { return base_->class_names(); }
  Image image(int64_t i) const override;
  // The base label in the labelled part, -1 in the rest.
  int64_t label(int64_t i) const override;
  std::string name() const override;

  // The base index of image i, and all of them (ascending).
  int64_t base_index(int64_t i) const;
  const std::vector<int64_t>& base_indices() const { return indices_; }
  const Dataset& base() const { return *base_; }

  // The labelled picks for (base, per_class, seed), as ascending base indices; what the labelled part holds.
  static std::vector<int64_t> pick(const Dataset& base, int64_t per_class, uint64_t seed);

 private:
  std::shared_ptr<const Dataset> base_;
  int64_t per_class_;
  uint64_t seed_;
  Part part_;
  std::vector<int64_t> indices_;
};

}  // namespace ssl::data
