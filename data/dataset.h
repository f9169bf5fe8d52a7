// Dataset: a fixed, indexable collection of labelled (or unlabelled) uint8 images.
//
// Contract: every const member may be called from several threads at once (the loader's workers do), so
// an implementation either keeps no mutable state or guards it. Image i is the same every time it is asked
// for; randomness belongs to transforms, which the loader seeds per sample.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/image.h"

namespace ssl::data {

// The parts a dataset comes in. Not every dataset has every split (only STL-10 has `unlabeled`).
enum class Split : uint8_t { train = 0, test = 1, unlabeled = 2 };

inline const char* split_name(Split s) {
  switch (s) {
    case Split::train:
      return "train";
    case Split::test:
      return "test";
    case Split::unlabeled:
      return "unlabeled";
  }
  return "?";
}

// "train", "test" or "unlabeled"; throws ssl::Error naming the accepted words otherwise.
inline Split parse_split(const std::string& text) {
  if (text == "train") return Split::train;
  if (text == "test") return Split::test;
  if (text == "unlabeled") return Split::unlabeled;
  throw Error(str_cat("unknown split '", text, "': expected train, test or unlabeled"));
}

class Dataset {
 public:
  virtual ~Dataset() = default;

  virtual int64_t size() const = 0;
  virtual int64_t num_classes() const = 0;
  // num_classes() names, in label order (label k is class_names()[k]).
  virtual std::vector<std::string> class_names() const = 0;
  // Requires 0 <= i < size(); throws ssl::Error otherwise.
  virtual Image image(int64_t i) const = 0;
  // The class of image i in [0, num_classes()), or -1 when the image is unlabelled.
  virtual int64_t label(int64_t i) const = 0;
  // A short description for logs, e.g. "synthetic:train (10000 images)".
  virtual std::string name() const = 0;

 protected:
  void check_index(int64_t i, const char* what) const {
    SSL_CHECK(i >= 0 && i < size(), name(), ": ", what, " index ", i, " is out of range [0, ", size(), ")");
  }
};

// The index of the first image of `set` without a label, or -1 when every image has one: what a command that
// trains or scores on labels checks when it opens its data (a SPEC@N,rest part has none).
inline int64_t first_unlabelled(const Dataset& set) {
  for (int64_t i = 0; i < set.size(); ++i)
    if (set.label(i) < 0) return i;
  return -1;
}

}  // namespace ssl::data
