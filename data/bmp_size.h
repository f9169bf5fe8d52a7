// bmp_size_problem: a check of a BMP's headers, length and palette indices made before stb_image decodes
// it. stb_image 2.27 reads the missing bytes of an uncompressed BMP cut short as zeros and reports success,
// so a truncated file, or 64 bytes whose header declares 8000 x 8000 pixels, would decode silently as black
// pixels; and it looks a paletted pixel up without checking its index against the palette's size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ssl::data {

// Why the BMP whose first `size` bytes are at `bytes` (the whole file, or at least its first 138 bytes, which
// hold any BMP's headers) is not a readable uncompressed BMP of `file_size` bytes: headers cut short, a
// width, height or bit depth out of range, less pixel data than the headers declare, or (when `bytes` holds
// the pixels) a palette index beyond the palette. Empty when it is
// readable, when its pixels are compressed (RLE, embedded JPEG or PNG: stb_image refuses those itself) or
// when the bytes are not a BMP (no "BM" signature).
std::string bmp_size_problem(const uint8_t* bytes, size_t size, uint64_t file_size);

}  // namespace ssl::data
