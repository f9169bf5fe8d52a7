#include "data/jpeg_tables.h"

#include "core/error.h"

namespace ssl::data {
namespace {

// The byte at `i`, or 0 past the end (as the decoder reads a short buffer).
int byte_at(const uint8_t* bytes, size_t size, size_t i) { return i < size ? bytes[i] : 0; }

int be16_at(const uint8_t* bytes, size_t size, size_t i) {
  return byte_at(bytes, size, i) << 8 | byte_at(bytes, size, i + 1);
}

// Checks the tables of the DHT segment whose length field is at `p`, reading them as the decoder does:
// table after table while the declared length lasts, even past it.
std::string dht_problem(const uint8_t* bytes, size_t size, size_t p) {
  int left = be16_at(bytes, size, p) - 2;
  p += 2;
  while (left > 0) {
    const int q = byte_at(bytes, size, p++);
    if ((q >> 4) > 1 || (q & 15) > 3) return {};  // the decoder refuses this table itself
    int codes = 0;
    for (int i = 0; i < 16; ++i) codes += byte_at(bytes, size, p++);
    if (codes > 256) {
      return str_cat("a Huffman table declares ", codes, " codes, at most 256 are possible");
    }
    p += size_t(codes);
    left -= 17 + codes;
  }
  return {};
}

bool is_frame_header(int m) { return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC; }

}  // namespace

std::string jpeg_huffman_problem(const uint8_t* bytes, size_t size, bool header_only, bool* needs_more) {
  if (needs_more) *needs_more = false;
  // The start-of-image marker, which like every marker may follow any number of 0xFF fill bytes.
  size_t p = 0;
  while (p < size && bytes[p] == 0xFF) ++p;
  if (p == 0 || p >= size || bytes[p] != 0xD8) return {};
  ++p;
  while (p < size) {
    if (bytes[p] != 0xFF) {  // padding between segments, which the decoder skips before the frame header
      ++p;
      continue;
    }
    while (p < size && bytes[p] == 0xFF) ++p;  // fill bytes
    if (p >= size) break;
    const int m = bytes[p++];
    if (m == 0xD9) return {};                             // end of image
    if (m == 0x01 || (m >= 0xD0 && m <= 0xD8)) continue;  // markers without a segment
    if (header_only && is_frame_header(m)) return {};
    if (m == 0xC4) {
      std::string problem = dht_problem(bytes, size, p);
      if (!problem.empty()) return problem;
    }
    const int length = be16_at(bytes, size, p);
    if (length < 2) return {};  // the decoder refuses the segment
    p += size_t(length);
    if (m == 0xDA) {
      // Entropy-coded data: 0xFF is followed by 0x00 (a stuffed byte), a restart marker or more 0xFF; any
      // other byte after it is the next marker, where the walk goes on.
      while (p + 1 < size && !(bytes[p] == 0xFF && bytes[p + 1] != 0x00 && bytes[p + 1] != 0xFF &&
                               !(bytes[p + 1] >= 0xD0 && bytes[p + 1] <= 0xD7))) {
        ++p;
      }
      if (p + 1 >= size) return {};
    }
  }
  if (needs_more) *needs_more = header_only;
  return {};
}

}  // namespace ssl::data
