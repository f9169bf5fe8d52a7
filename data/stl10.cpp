#include "data/stl10.h"

#include "core/error.h"
#include "data/dataset_files.h"

namespace ssl::data {
namespace {

std::string images_file(Split split) { return str_cat(split_name(split), "_X.bin"); }

}  // namespace

Stl10Dataset::Stl10Dataset(std::string dir, Split split)
    : dir_(locate_dataset_directory(dir, "stl10", images_file(split), "stl10_binary")),
      split_(split),
      images_(join_path(dir_, images_file(split))) {
  SSL_CHECK(images_.size() > 0 && images_.size() % kImageBytes == 0, images_.path(),
            ": expected a whole number of ", kImageBytes, "-byte images (3x96x96), found ", images_.size(),
            " bytes (", images_.size() / kImageBytes, " images and ", images_.size() % kImageBytes,
            " bytes over)");
  count_ = images_.size() / kImageBytes;
  if (split == Split::unlabeled) return;

  class_names_ = read_class_names(join_path(dir_, "class_names.txt"), kClasses);
  const FileReader y(join_path(dir_, str_cat(split_name(split), "_y.bin")));
  SSL_CHECK(y.size() == count_, y.path(), ": expected one label byte per image of ", images_.path(), " (",
            count_, " bytes), found ", y.size(), " bytes");
  labels_ = y.read_all();
  for (size_t i = 0; i < labels_.size(); ++i) {
    SSL_CHECK(labels_[i] >= 1 && labels_[i] <= kClasses, y.path(), ": label ", i, " is ", int(labels_[i]),
              "; expected 1..", kClasses);
    labels_[i] = uint8_t(labels_[i] - 1);
  }
}

Image Stl10Dataset::image(int64_t i) const {
  check_index(i, "image");
  constexpr int64_t plane = kSide * kSide;
  std::vector<uint8_t> raw(static_cast<size_t>(kImageBytes));
  images_.read_at(i * kImageBytes, raw.data(), kImageBytes);
  Image out(kSide, kSide, 3);
  for (int64_t ch = 0; ch < 3; ++ch) {
    const uint8_t* src = &raw[size_t(ch * plane)];
    for (int64_t x = 0; x < kSide; ++x) {  // column-major: x outer, y fastest in the file
      for (int64_t y = 0; y < kSide; ++y) out(y, x, ch) = src[x * kSide + y];
    }
  }
  return out;
}

int64_t Stl10Dataset::label(int64_t i) const {
  check_index(i, "label");
  return labels_.empty() ? -1 : int64_t(labels_[size_t(i)]);
}

std::string Stl10Dataset::name() const {
  return str_cat("stl10:", dir_, ":", split_name(split_), " (", size(), " images)");
}

}  // namespace ssl::data
