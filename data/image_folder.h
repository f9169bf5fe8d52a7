// ImageFolderDataset: a directory of ordinary image files (JPEG, PNG, BMP), decoded with stb_image.
//
//   DIR/<class>/<file>   one sub-folder per class: the sorted sub-folder names are the class names, label k
//                        is the k-th of them, and a class's files are taken in sorted name order;
//   DIR/<file>           no sub-folders: an unlabelled set (labels -1, 0 classes).
//
// Files are recognised by extension (.jpg .jpeg .png .bmp, any case); other files and names starting with
// '.' are ignored, as are folders inside a class folder. A directory holding both class sub-folders and
// image files is refused as ambiguous.
//
// Every file's header is checked with stbi_info when the dataset is opened. A file whose header is bad is an
// error, or with `skip_bad_images` a warning: the file is left out, counted in skipped(), and one line is
// written to stderr. Pixels are decoded on demand in image() with data/image_decode.h (thread-safe; stb_image
// keeps its error message per thread): the image is converted to RGB, cropped to its centred square (keeping
// the aspect ratio) and resampled to size x size with data/resample.h's antialiased filter. A file whose
// header is good but whose data the decoder finds corrupt (a PNG's CRCs are checked; JPEG and BMP have none,
// so damaged pixels there decode as they are) can only be found then: image() throws ssl::Error naming it.
// (A header declaring more than kMaxDecodedPixels pixels is a bad header.)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace ssl::data {

struct ImageFolderOptions {
  int64_t size = 32;  // side of the square output images
  // Leave out (and count) files that cannot be decoded; each file is decoded once when the folder is opened
  // to find them. Without it, a file whose header cannot be read is an error at once, and one that is damaged
  // further in is an error when it is first decoded, naming it.
  bool skip_bad_images = false;
};

class ImageFolderDataset final : public Dataset {
 public:
  // Lists and checks the files. Throws ssl::Error naming the directory or file when the directory is missing,
  // a class folder holds no image, no image is found, the layout is ambiguous, or (without skip_bad_images)
  // a file's header cannot be read; or when options.size is not positive.
  explicit ImageFolderDataset(std::string dir, ImageFolderOptions options = {});

  int64_t size() const override { return int64_t(files_.size()); }
  int64_t num_classes() const override { return int64_t(class_names_.size()); }
  std::vector<std::string> class_names() const override { return class_names_; }
  Image image(int64_t i) const override;  // size x size x 3
  int64_t label(int64_t i) const override;
  std::string name() const override;

  // The file behind image i.
  const std::string& path(int64_t i) const;
  // The files left out with skip_bad_images, each as "path: reason".
  const std::vector<std::string>& skipped() const { return skipped_; }
  int64_t skipped_count() const { return int64_t(skipped_.size()); }

  // True for the extensions the dataset reads (.jpg .jpeg .png .bmp, any case).
  static bool is_image_file_name(const std::string& file_name);

 private:
  std::string dir_;
  ImageFolderOptions options_;
  std::vector<std::string> class_names_;
  std::vector<std::string> files_;
  std::vector<int64_t> labels_;
  std::vector<std::string> skipped_;
};

}  // namespace ssl::data
