// Matching the classes of two datasets by name, for cross-dataset evaluation (train a probe on CIFAR-10,
// test it on STL-10). Names are compared after canonicalisation: lower case, '_', '-' and blanks (tabs too)
// read as spaces, runs of them as one, surrounding ones dropped, and a few synonyms folded together
// ("automobile" ~ "car", "aeroplane" ~ "airplane" ~ "plane", "lorry" ~ "truck"). Classes with no counterpart
// are reported, e.g. CIFAR-10's frog and STL-10's monkey.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace ssl::data {

struct ClassMapping {
  std::vector<std::string> from_names;      // the `from` dataset's classes, in label order
  std::vector<std::string> to_names;        // the `to` dataset's classes, in label order
  std::vector<int64_t> to_label;            // [from_names.size()]: the matching `to` label, or -1
  std::vector<std::string> unmatched_from;  // `from` classes with no counterpart, in label order
  std::vector<std::string> unmatched_to;    // `to` classes with no counterpart, in label order

  // The `to` label of `from` label y, or -1 when y has no counterpart or is -1 (unlabelled). Throws
  // ssl::Error when y is outside [-1, from_names.size()).
  int64_t map(int64_t from_label) const;
  int64_t matched_count() const { return int64_t(from_names.size() - unmatched_from.size()); }
  // Several lines: "automobile -> car", then the unmatched classes of each side.
  std::string describe() const;
};

// The canonical form two class names are compared in (see above).
std::string canonical_class_name(const std::string& name);

// Matches every class of `from` with the class of `to` of the same canonical name. Throws ssl::Error when
// either dataset has no classes or has two classes with the same canonical name (the match would be
// ambiguous), naming the dataset and the two names.
ClassMapping map_classes_by_name(const Dataset& from, const Dataset& to);

// Refuses (ssl::Error from `who`) a `scored` dataset whose classes are not `trained`'s in the same order: a
// classifier's outputs are the classes it was trained on, by label, so a test set whose label k is another
// class would be scored wrong without a word. (A frozen encoder's probe maps classes by name instead.)
void check_same_classes(const Dataset& trained, const Dataset& scored, const std::string& who);

// A view of `base` in another dataset's label space: keeps the images whose class has a counterpart under
// `mapping` (from = base's classes), relabelled to the `to` labels, with the `to` class names. Unlabelled
// images (-1) and images of unmatched classes are left out.
class RelabeledDataset final : public Dataset {
 public:
  // Throws ssl::Error when mapping.from_names differs from base's class names.
  RelabeledDataset(std::shared_ptr<const Dataset> base, ClassMapping mapping);

  int64_t size() const override { return int64_t(indices_.size()); }
  int64_t num_classes() const override { return int64_t(mapping_.to_names.size()); }
  std::vector<std::string> class_names() const override { return mapping_.to_names; }
  Image image(int64_t i) const override;
  int64_t label(int64_t i) const override;
  std::string name() const override;

  int64_t base_index(int64_t i) const;

 private:
  std::shared_ptr<const Dataset> base_;
  ClassMapping mapping_;
  std::vector<int64_t> indices_;  // base indices kept, ascending
};

}  // namespace ssl::data
