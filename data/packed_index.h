// The index of pixel x in a row of packed palette indices, `bits` (1, 2, 4 or 8) each, the first pixel in
// the high bits of its byte: the layout of paletted BMP and PNG rows alike.
#pragma once

#include <cstdint>

namespace ssl::data {

inline int packed_index(const uint8_t* row, int64_t x, int bits) {
  const int64_t bit = x * bits;
  return (row[bit / 8] >> (8 - bits - int(bit % 8))) & ((1 << bits) - 1);
}

}  // namespace ssl::data
