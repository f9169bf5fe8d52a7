#include "data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "core/error.h"
#include "core/utf8.h"
#include "data/dataset_files.h"
#include "data/file_reader.h"
#include "data/image_decode.h"
#include "data/resample.h"

namespace ssl::data {
namespace {

namespace fs = std::filesystem;

struct Listing {
  std::vector<std::string> dirs;   // sub-folder names, sorted
  std::vector<std::string> files;  // image file names, sorted
};

// The visible sub-folders and image files directly inside `dir`.
Listing list_directory(const std::string& dir) {
  Listing out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  SSL_CHECK(!ec, "folder dataset: cannot list '", dir, "': ", ec.message());
  for (; it != end; it.increment(ec)) {
    SSL_CHECK(!ec, "folder dataset: cannot list '", dir, "': ", ec.message());
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    std::error_code type_ec;
    if (it->is_directory(type_ec)) {
      out.dirs.push_back(name);
    } else if (ImageFolderDataset::is_image_file_name(name)) {
      out.files.push_back(name);
    }
  }
  SSL_CHECK(!ec, "folder dataset: cannot list '", dir, "': ", ec.message());
  std::sort(out.dirs.begin(), out.dirs.end());
  std::sort(out.files.begin(), out.files.end());
  return out;
}

// Why the file at `path` cannot be used, naming it, or "" when it can: from its header alone, or with
// `decode_all` (skip_bad_images, which promises that what is kept can be read) from decoding all of it too.
std::string unreadable_reason(const std::string& path, bool decode_all) {
  const std::string header = image_file_header_problem(path);
  if (!header.empty()) return str_cat(path, ": ", header);
  if (!decode_all) return "";
  try {
    const std::vector<uint8_t> bytes = FileReader(path).read_all();
    decode_image(bytes.data(), bytes.size(), path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// How to go on past a damaged file, said after its error.
constexpr const char* kSkipBadHint =
    " (the spec suffix ':skip-bad', or the flag --skip-bad-images of the commands that have it, leaves such "
    "files out, decoding every file when the folder is opened)";

}  // namespace

bool ImageFolderDataset::is_image_file_name(const std::string& file_name) {
  const size_t dot = file_name.rfind('.');
  if (dot == std::string::npos || dot == 0) return false;
  std::string ext = file_name.substr(dot + 1);
  for (char& ch : ext) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return ext == "jpg" || ext == "jpeg" || ext == "png" || ext == "bmp";
}

ImageFolderDataset::ImageFolderDataset(std::string dir, ImageFolderOptions options)
    : dir_(std::move(dir)), options_(options) {
  SSL_CHECK(options_.size > 0 && options_.size <= kMaxImageSide, "folder dataset '", dir_,
            "': expected an image size of 1 to ", kMaxImageSide, " pixels, got ", options_.size);
  require_directory(dir_, "folder dataset");
  const Listing top = list_directory(dir_);
  SSL_CHECK(top.dirs.empty() || top.files.empty(), "folder dataset '", dir_,
            "': found both class sub-folders (", top.dirs.size(), ", e.g. '",
            top.dirs.empty() ? "" : top.dirs[0], "') and image files (", top.files.size(), ", e.g. '",
            top.files.empty() ? "" : top.files[0],
            "') at the top level; expected one sub-folder per class, or image files only (unlabelled)");

  // Adds the image files of `folder` with label `label`; returns how many were kept.
  auto add_files = [&](const std::string& folder, const std::vector<std::string>& names, int64_t label) {
    int64_t kept = 0;
    for (const std::string& file_name : names) {
      const std::string path = join_path(folder, file_name);
      const std::string problem = unreadable_reason(path, options_.skip_bad_images);
      if (!problem.empty()) {
        SSL_CHECK(options_.skip_bad_images, problem, kSkipBadHint);
        skipped_.push_back(problem);
        continue;
      }
      files_.push_back(path);
      labels_.push_back(label);
      ++kept;
    }
    return kept;
  };

  if (top.dirs.empty()) {
    SSL_CHECK(!top.files.empty(), "folder dataset '", dir_,
              "': no image files (.jpg .jpeg .png .bmp) and no class sub-folders found");
    const int64_t kept = add_files(dir_, top.files, -1);
    SSL_CHECK(kept > 0, "folder dataset '", dir_, "': none of its ", top.files.size(),
              " image files could be read (all skipped as bad)");
  } else {
    for (const std::string& name : top.dirs)
      check_utf8(name, str_cat("folder dataset '", dir_, "': a class folder's name"));
    class_names_ = top.dirs;
    // Images sit directly in the class folders: sub-folders inside them are left out, and said so below.
    std::string unread;
    for (size_t k = 0; k < top.dirs.size(); ++k) {
      const std::string folder = join_path(dir_, top.dirs[k]);
      const Listing inner = list_directory(folder);
      SSL_CHECK(!inner.files.empty(), "folder dataset '", dir_, "': class folder '", folder,
                "' has no image file",
                inner.dirs.empty()
                    ? ""
                    : str_cat(", only sub-folders ('", inner.dirs.front(), "'...), which are not read"),
                "; expected at least one image file (.jpg .jpeg .png .bmp) directly in it");
      if (unread.empty() && !inner.dirs.empty())
        unread = str_cat("the sub-folder '", join_path(folder, inner.dirs.front()),
                         "' and any others inside class folders (only a class folder's own files are read)");
      const int64_t kept = add_files(folder, inner.files, int64_t(k));
      SSL_CHECK(kept > 0, "folder dataset '", dir_, "': class folder '", folder,
                "' has no readable image (all ", inner.files.size(), " skipped as bad)");
    }
    if (!unread.empty())
      std::fprintf(stderr, "warning: folder dataset '%s': not read: %s\n", dir_.c_str(), unread.c_str());
  }
  if (!skipped_.empty()) {
    std::fprintf(stderr, "warning: folder dataset '%s': skipped %zu bad image file(s), first: %s\n",
                 dir_.c_str(), skipped_.size(), skipped_.front().c_str());
  }
}

const std::string& ImageFolderDataset::path(int64_t i) const {
  check_index(i, "path");
  return files_[size_t(i)];
}

Image ImageFolderDataset::image(int64_t i) const {
  const std::string& file = path(i);
  const std::vector<uint8_t> bytes = FileReader(file).read_all();
  Image full;
  try {
    full = decode_image(bytes.data(), bytes.size(), file);
  } catch (const Error& e) {
    if (options_.skip_bad_images) throw;  // decoded when the folder was opened: the file changed since
    throw Error(str_cat(e.what(), kSkipBadHint));
  }
  const int64_t s = options_.size;
  if (full.h == s && full.w == s) return full;
  // The centred square keeps the aspect ratio. Its corner is a whole pixel, as CenterCrop's: a half-pixel
  // offset would blend neighbouring columns even where the square is already the output's size.
  const int64_t side = std::min(full.h, full.w);
  return resample(full, double((full.w - side) / 2), double((full.h - side) / 2), double(side), double(side),
                  s, s);
}

int64_t ImageFolderDataset::label(int64_t i) const {
  check_index(i, "label");
  return labels_[size_t(i)];
}

std::string ImageFolderDataset::name() const {
  return str_cat("folder:", dir_, " (", size(), " images, ", num_classes(), " classes, ", options_.size, "px",
                 skipped_.empty() ? "" : str_cat(", ", skipped_.size(), " skipped"), ")");
}

}  // namespace ssl::data
