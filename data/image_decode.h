// decode_image: an image file's bytes (JPEG, PNG or BMP; third_party/stb_impl.cpp builds no other decoder)
// decoded in memory to 8-bit RGB. The one decoding path of the data layer: ImageFolderDataset::image() reads
// a file and calls it, and tests/fuzz feeds it arbitrary bytes. A JPEG's Huffman tables, a PNG's chunk
// lengths and a BMP's headers and length are checked first (data/jpeg_tables.h, data/png_chunks.h,
// data/bmp_size.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "data/image.h"

namespace ssl::data {

// The largest image decode_image accepts by default, in pixels (8192 x 8192): a header declaring more is
// refused before any pixel memory is allocated.
inline constexpr int64_t kMaxDecodedPixels = int64_t(1) << 26;
// The largest side an image is resized to (--image-size, a folder's SIZE): that many pixels square.
inline constexpr int64_t kMaxImageSide = 8192;

// Decodes `size` bytes at `bytes` to an h x w x 3 Image. Throws ssl::Error naming `source_name` (a file path,
// usually) when the bytes are not a readable image ("cannot decode the image (...); the file is corrupt or
// truncated"), when the header declares more than `max_pixels` pixels, or when the decoded image is empty.
// Thread-safe.
Image decode_image(const uint8_t* bytes, size_t size, const std::string& source_name,
                   int64_t max_pixels = kMaxDecodedPixels);

// Empty when the image header of the file at `path` can be read (as ImageFolderDataset checks each file when
// it is opened), else why not, without the path. Reads the file's header, not its pixels; a BMP shorter than
// its header declares, and an image of more than kMaxDecodedPixels pixels, are refused here too.
std::string image_file_header_problem(const std::string& path);

}  // namespace ssl::data
