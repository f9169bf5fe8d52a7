// CIFAR-10, the official binary version (https://www.cs.toronto.edu/~kriz/cifar.html, "CIFAR-10 binary
// version", cifar-10-batches-bin/): data_batch_1.bin .. data_batch_5.bin (train, 50,000 images) and
// test_batch.bin (test, 10,000). Each file is a sequence of 3073-byte records: one label byte (0..9), then
// the 32x32 picture as 1024 red, 1024 green and 1024 blue bytes, each plane row by row. Class names come
// from batches.meta.txt, one per line.
//
// The split is read into memory when opened (150 MB for train) and every record is checked then, so a bad
// file fails at once with its name and the record at fault. image() only converts planes to HWC.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace ssl::data {

class Cifar10Dataset final : public Dataset {
 public:
  static constexpr int64_t kSide = 32;
  static constexpr int64_t kClasses = 10;
  static constexpr int64_t kPixelBytes = 3 * kSide * kSide;  // 3072
  static constexpr int64_t kRecordBytes = 1 + kPixelBytes;   // 3073

  // Reads `split` (train or test) of the dataset in directory `dir`. Throws ssl::Error naming the directory
  // or file when the directory or a file is missing, a file's size is not a whole number of records, a label
  // is above 9, or batches.meta.txt has fewer than 10 names.
  Cifar10Dataset(std::string dir, Split split);

  int64_t size() const override { return int64_t(labels_.size()); }
  int64_t num_classes() const override { return kClasses; }
  std::vector<std::string> class_names() const override { return class_names_; }
  Image image(int64_t i) const override;  // 32x32x3
  int64_t label(int64_t i) const override;
  std::string name() const override;

  // The files of a split, in reading order.
  static std::vector<std::string> split_files(Split split);

 private:
  std::string dir_;
  Split split_;
  std::vector<std::string> class_names_;
  std::vector<uint8_t> planes_;  // size() * 3072 bytes: each image's R, G, B planes
  std::vector<uint8_t> labels_;
};

}  // namespace ssl::data
