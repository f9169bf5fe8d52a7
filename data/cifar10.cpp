#include "data/cifar10.h"

#include "core/error.h"
#include "data/dataset_files.h"
#include "data/file_reader.h"

namespace ssl::data {

std::vector<std::string> Cifar10Dataset::split_files(Split split) {
  switch (split) {
    case Split::train:
      return {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
              "data_batch_5.bin"};
    case Split::test:
      return {"test_batch.bin"};
    case Split::unlabeled:
      break;
  }
  throw Error(str_cat("cifar10 has no split '", split_name(split), "': expected train or test"));
}

Cifar10Dataset::Cifar10Dataset(std::string dir, Split split) : dir_(std::move(dir)), split_(split) {
  const std::vector<std::string> files = split_files(split);  // rejects `unlabeled` before touching disk
  dir_ = locate_dataset_directory(dir_, "cifar10", "batches.meta.txt", "cifar-10-batches-bin");
  class_names_ = read_class_names(join_path(dir_, "batches.meta.txt"), kClasses);
  for (const std::string& file : files) {
    const FileReader f(join_path(dir_, file));
    SSL_CHECK(f.size() > 0 && f.size() % kRecordBytes == 0, f.path(), ": expected a whole number of ",
              kRecordBytes, "-byte records (1 label + 3072 pixel bytes), found ", f.size(), " bytes (",
              f.size() / kRecordBytes, " records and ", f.size() % kRecordBytes, " bytes over)");
    const std::vector<uint8_t> bytes = f.read_all();
    const int64_t n = f.size() / kRecordBytes;
    planes_.reserve(planes_.size() + size_t(n * kPixelBytes));
    for (int64_t r = 0; r < n; ++r) {
      const uint8_t* rec = &bytes[size_t(r * kRecordBytes)];
      SSL_CHECK(rec[0] < kClasses, f.path(), ": record ", r, " has label ", int(rec[0]), "; expected 0..",
                kClasses - 1);
      labels_.push_back(rec[0]);
      planes_.insert(planes_.end(), rec + 1, rec + kRecordBytes);
    }
  }
}

Image Cifar10Dataset::image(int64_t i) const {
  check_index(i, "image");
  constexpr int64_t plane = kSide * kSide;
  const uint8_t* src = &planes_[size_t(i * kPixelBytes)];
  Image out(kSide, kSide, 3);
  for (int64_t p = 0; p < plane; ++p) {  // p = y * 32 + x, the same order as HWC pixels
    for (int64_t ch = 0; ch < 3; ++ch) out.pixels[size_t(p * 3 + ch)] = src[ch * plane + p];
  }
  return out;
}

int64_t Cifar10Dataset::label(int64_t i) const {
  check_index(i, "label");
  return labels_[size_t(i)];
}

std::string Cifar10Dataset::name() const {
  return str_cat("cifar10:", dir_, ":", split_name(split_), " (", size(), " images)");
}

}  // namespace ssl::data
