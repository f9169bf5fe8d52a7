// Fuzzes image decoding (data::decode_image, the decoder behind ImageFolderDataset::image()): the input is
// an image file's bytes, decoded in memory. The pixel limit is lowered to 2048 x 2048 so that headers
// declaring huge images are refused quickly; the code path is the one the dataset runs. ssl::Error is the
// expected answer to bad bytes; any other exception, a crash or a sanitizer report is a finding.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "data/image_decode.h"
#include "data/png_chunks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr int64_t kMaxPixels = int64_t(2048) * 2048;
  // A PNG's CRCs are set to match its bytes, or almost every mutation would stop at the CRC check.
  std::vector<uint8_t> bytes(data, data + size);
  ssl::data::rewrite_png_crcs(bytes.data(), bytes.size());
  try {
    const ssl::data::Image img =
        ssl::data::decode_image(bytes.data(), bytes.size(), "fuzz-input", kMaxPixels);
    if (img.c != 3 || img.h <= 0 || img.w <= 0 || img.h * img.w > kMaxPixels ||
        img.pixels.size() != size_t(img.numel()))
      __builtin_trap();
  } catch (const ssl::Error&) {
  }
  return 0;
}
