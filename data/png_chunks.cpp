#include "data/png_chunks.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"

namespace ssl::data {

std::string png_chunk_problem(const uint8_t* bytes, size_t size) {
  static constexpr uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (size < sizeof kSignature || std::memcmp(bytes, kSignature, sizeof kSignature) != 0) return {};
  size_t p = sizeof kSignature;
  // Each chunk: a 4-byte big-endian data length, a 4-byte type, the data, a 4-byte CRC.
  while (size - p >= 8) {
    const uint64_t length = uint64_t(bytes[p]) << 24 | uint64_t(bytes[p + 1]) << 16 |
                            uint64_t(bytes[p + 2]) << 8 | uint64_t(bytes[p + 3]);
    const std::string type(reinterpret_cast<const char*>(bytes + p + 4), 4);
    const uint64_t left = size - p - 8;
    if (length > left) {
      return str_cat("PNG chunk ", p, " declares ", length, " data bytes, but only ", left, " are left");
    }
    if (type == "IEND") return {};
    p += 8 + size_t(length) + std::min<size_t>(4, size_t(left - length));
  }
  return {};
}

}  // namespace ssl::data
