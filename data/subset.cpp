#include "data/subset.h"

#include <algorithm>
#include <utility>

#include "core/error.h"
#include "kernels/common/philox.h"

namespace ssl::data {

std::vector<int64_t> LabelSubset::pick(const Dataset& base, int64_t per_class, uint64_t seed) {
  SSL_CHECK(per_class >= 1, "label budget for ", base.name(), ": expected at least 1 image per class, got ",
            per_class);
  const int64_t classes = base.num_classes();
  SSL_CHECK(classes > 0, "label budget for ", base.name(), ": the dataset has no classes (it is unlabelled)");
  std::vector<std::vector<int64_t>> by_class(static_cast<size_t>(classes));
  for (int64_t i = 0; i < base.size(); ++i) {
    const int64_t y = base.label(i);
    SSL_CHECK(y >= -1 && y < classes, "label budget for ", base.name(), ": image ", i, " has label ", y,
              "; expected -1..", classes - 1);
    if (y >= 0) by_class[size_t(y)].push_back(i);
  }
  const std::vector<std::string> names = base.class_names();
  std::vector<int64_t> picked;
  for (int64_t k = 0; k < classes; ++k) {
    std::vector<int64_t>& pool = by_class[size_t(k)];
    const int64_t n = int64_t(pool.size());
    SSL_CHECK(n >= per_class, "label budget for ", base.name(), ": expected ", per_class, " images of class ",
              k, " ('", size_t(k) < names.size() ? names[size_t(k)] : "?", "'), found ", n);
    rng::Stream rng(seed, uint64_t(k));
    for (int64_t j = 0; j < per_class; ++j) {  // partial Fisher-Yates: position j takes a draw from [j, n)
      const int64_t r = j + int64_t(rng.below(uint32_t(n - j)));
      std::swap(pool[size_t(j)], pool[size_t(r)]);
    }
    picked.insert(picked.end(), pool.begin(), pool.begin() + per_class);
  }
  std::sort(picked.begin(), picked.end());
  return picked;
}

LabelSubset::LabelSubset(std::shared_ptr<const Dataset> base, int64_t per_class, uint64_t seed, Part part)
    : base_(std::move(base)), per_class_(per_class), seed_(seed), part_(part) {
  SSL_CHECK(base_ != nullptr, "LabelSubset: no base dataset");
  std::vector<int64_t> picked = pick(*base_, per_class, seed);
  if (part == Part::labelled) {
    indices_ = std::move(picked);
    return;
  }
  indices_.reserve(size_t(base_->size()) - picked.size());
  size_t p = 0;
  for (int64_t i = 0; i < base_->size(); ++i) {
    if (p < picked.size() && picked[p] == i) {
      ++p;
    } else {
      indices_.push_back(i);
    }
  }
}

int64_t LabelSubset::base_index(int64_t i) const {
  check_index(i, "base index");
  return indices_[size_t(i)];
}

Image LabelSubset::image(int64_t i) const { return base_->image(base_index(i)); }

int64_t LabelSubset::label(int64_t i) const {
  const int64_t b = base_index(i);
  return part_ == Part::labelled ? base_->label(b) : -1;
}

std::string LabelSubset::name() const {
  return str_cat(base_->name(), " @", per_class_, " per class, seed ", seed_,
                 part_ == Part::labelled ? ", labelled" : ", rest unlabelled", " (", size(), " images)");
}

}  // namespace ssl::data
