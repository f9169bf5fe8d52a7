// STL-10, the official binary version (https://cs.stanford.edu/~acoates/stl10/, stl10_binary/):
// train_X.bin + train_y.bin (5,000 labelled images), test_X.bin + test_y.bin (8,000), unlabeled_X.bin
// (100,000, 2.7 GB) and class_names.txt. An X file is [N][3][96][96] bytes written in column-major
// (Fortran) order per channel: for image n and channel c the byte at n*27648 + c*9216 + x*96 + y is the pixel
// at row y, column x. A y file holds one byte per image, the class 1..10 (label 0..9 here).
//
// Images are read on demand with pread (FileReader), so opening costs nothing whatever the file size and
// image() is safe to call from several threads. Sizes and labels are checked when the dataset is opened.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/file_reader.h"

namespace ssl::data {

class Stl10Dataset final : public Dataset {
 public:
  static constexpr int64_t kSide = 96;
  static constexpr int64_t kClasses = 10;
  static constexpr int64_t kImageBytes = 3 * kSide * kSide;  // 27648

  // Opens `split` of the dataset in directory `dir`: train, test or unlabeled. The unlabeled split needs
  // only unlabeled_X.bin; its images have label -1 and the dataset reports 0 classes (the unlabelled
  // pictures also show things outside the ten classes). Throws ssl::Error naming the directory or file
  // when it is missing, an X file's size is not a whole number of images, a y file does not hold one byte
  // per image, a label is outside 1..10, or class_names.txt does not hold 10 names.
  Stl10Dataset(std::string dir, Split split);

  int64_t size() const override { return count_; }
  int64_t num_classes() const override { return int64_t(class_names_.size()); }
  std::vector<std::string> class_names() const override { return class_names_; }
  Image image(int64_t i) const override;  // 96x96x3
  int64_t label(int64_t i) const override;
  std::string name() const override;

 private:
  std::string dir_;
  Split split_;
  FileReader images_;
  int64_t count_ = 0;
  std::vector<std::string> class_names_;  // empty for the unlabeled split
  std::vector<uint8_t> labels_;           // 0..9; empty for the unlabeled split
};

}  // namespace ssl::data
