#include "data/image_decode.h"

#include <stb_image.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <vector>

#include "core/error.h"
#include "data/bmp_size.h"
#include "data/file_reader.h"
#include "data/jpeg_tables.h"
#include "data/png_chunks.h"

namespace ssl::data {
namespace {

[[noreturn]] void throw_undecodable(const std::string& source_name, const std::string& why) {
  throw Error(
      str_cat(source_name, ": cannot decode the image (", why, "); the file is corrupt or truncated"));
}

// The format a file's first bytes announce, or nullptr for none that is decoded here.
const char* announced_format(const uint8_t* bytes, size_t size) {
  auto starts_with = [&](std::initializer_list<uint8_t> magic) {
    return size >= magic.size() && std::equal(magic.begin(), magic.end(), bytes);
  };
  if (starts_with({0xFF, 0xD8})) return "JPEG";
  if (starts_with({0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'})) return "PNG";
  if (starts_with({'B', 'M'})) return "BMP";
  return nullptr;
}

// stb_image tries one format after another, and its failure reason is the last one's ("Not a PNG" for a
// truncated JPEG, from its header read and from its decoder alike): for a file that announces its format, the
// format is named instead.
[[noreturn]] void throw_undecodable(const std::string& source_name, const uint8_t* bytes, size_t size) {
  if (const char* format = announced_format(bytes, size))
    throw_undecodable(source_name, str_cat("its ", format, " data does not decode"));
  const char* why = stbi_failure_reason();
  throw_undecodable(source_name, str_cat(why ? why : "unknown reason", "; expected a JPEG, PNG or BMP file"));
}

// How much of a file is read first to check a JPEG's tables up to its frame header; the whole file is read
// only when the header lies further in.
constexpr int64_t kHeaderPrefixBytes = int64_t(1) << 20;

}  // namespace

Image decode_image(const uint8_t* bytes, size_t size, const std::string& source_name, int64_t max_pixels) {
  // stb_image takes the length as an int; a longer buffer is refused rather than silently cut.
  SSL_CHECK(size <= size_t(INT_MAX), source_name, ": the file is ", size, " bytes; at most ", INT_MAX,
            " bytes can be decoded");
  const int len = int(size);
  std::string problem = jpeg_table_problem(bytes, size);
  if (problem.empty()) problem = png_chunk_problem(bytes, size, max_pixels);
  if (problem.empty()) problem = bmp_size_problem(bytes, size, size);
  if (!problem.empty()) throw_undecodable(source_name, problem);
  // A PNG larger than accepted is refused as such before stb_image, whose own size limit says "corrupt".
  uint64_t png_w = 0, png_h = 0;
  if (png_declared_size(bytes, size, png_w, png_h))
    SSL_CHECK(png_w * png_h <= uint64_t(max_pixels), source_name, ": the header gives an image of ", png_w,
              "x", png_h, " pixels, more than the ", max_pixels, " pixels accepted");
  int w = 0, h = 0, comp = 0;
  if (!stbi_info_from_memory(bytes, len, &w, &h, &comp)) throw_undecodable(source_name, bytes, size);
  h = std::abs(
      h);  // stb_image's header read gives a top-down BMP's height as negative, as the file stores it
  SSL_CHECK(w > 0 && h > 0, source_name, ": the header gives an empty image of ", w, "x", h, " pixels");
  SSL_CHECK(int64_t(w) * int64_t(h) <= max_pixels, source_name, ": the header gives an image of ", w, "x", h,
            " pixels, more than the ", max_pixels, " pixels accepted");

  std::unique_ptr<stbi_uc, void (*)(void*)> data(stbi_load_from_memory(bytes, len, &w, &h, &comp, 3),
                                                 stbi_image_free);
  if (!data) throw_undecodable(source_name, bytes, size);
  SSL_CHECK(w > 0 && h > 0, source_name, ": decoded an empty image of ", w, "x", h, " pixels");
  SSL_CHECK(int64_t(w) * int64_t(h) <= max_pixels, source_name, ": decoded an image of ", w, "x", h,
            " pixels, more than the ", max_pixels, " pixels accepted");
  Image out(h, w, 3);
  std::copy_n(data.get(), size_t(out.numel()), out.pixels.begin());
  return out;
}

std::string image_file_header_problem(const std::string& path) {
  std::vector<uint8_t> head;
  const char* format = nullptr;
  try {
    const FileReader file(path);
    head.resize(size_t(std::min(file.size(), kHeaderPrefixBytes)));
    file.read_at(0, head.data(), int64_t(head.size()));
    format = announced_format(head.data(), head.size());
    bool needs_more = false;
    std::string problem = jpeg_table_problem(head.data(), head.size(), /*header_only=*/true, &needs_more);
    if (needs_more && file.size() > int64_t(head.size())) {
      head = file.read_all();
      problem = jpeg_table_problem(head.data(), head.size(), /*header_only=*/true);
    }
    if (!problem.empty()) {
      return str_cat("cannot read the image header (", problem, "); expected a JPEG, PNG or BMP file");
    }
    // A BMP's headers say how long its pixel data is, so a BMP cut short is found here already.
    problem = bmp_size_problem(head.data(), head.size(), uint64_t(file.size()));
    if (!problem.empty()) {
      return str_cat("cannot decode the image (", problem, "); the file is corrupt or truncated");
    }
  } catch (const Error& e) {
    return str_cat("cannot read the file (", e.what(), ")");
  }
  int w = 0, h = 0, comp = 0;
  if (!stbi_info(path.c_str(), &w, &h, &comp)) {
    uint64_t png_w = 0, png_h = 0;
    // stb_image refuses a PNG of more than 2^30 bytes of pixels: 2^28 of them at four channels.
    if (png_declared_size(head.data(), head.size(), png_w, png_h) && png_w * png_h > (uint64_t(1) << 28))
      return str_cat("cannot read the image header (a PNG of ", png_w, "x", png_h,
                     " pixels, more than the decoder takes)");
    if (format) return str_cat("cannot read the image header (its ", format, " header does not decode)");
    const char* why = stbi_failure_reason();
    return str_cat("cannot read the image header (", why ? why : "unknown reason",
                   "); expected a JPEG, PNG or BMP file");
  }
  h = std::abs(h);  // a top-down BMP's height, negative in the file
  if (w <= 0 || h <= 0) return str_cat("the header gives an empty image of ", w, "x", h, " pixels");
  // decode_image's limit, found from the header here rather than when a run first reaches the file.
  if (int64_t(w) * int64_t(h) > kMaxDecodedPixels)
    return str_cat("the header gives an image of ", w, "x", h, " pixels, more than the ", kMaxDecodedPixels,
                   " pixels accepted");
  return {};
}

}  // namespace ssl::data
