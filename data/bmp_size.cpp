#include "data/bmp_size.h"

#include <cstdlib>

#include "core/error.h"
#include "data/packed_index.h"

namespace ssl::data {
namespace {

uint32_t le16(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8; }
uint32_t le32(const uint8_t* p) { return le16(p) | le16(p + 2) << 16; }

// stb_image's own limit on a side (STBI_MAX_DIMENSIONS); it also keeps the byte counts below from
// overflowing.
constexpr int64_t kMaxSide = int64_t(1) << 24;

// A paletted BMP's first pixel whose index is beyond the palette's `colours` entries. stb_image keeps its
// palette in an uninitialised 256-entry array and looks every index up there, so such a pixel would take
// whatever that memory held. Rows of `row_bytes` start at `pixels`; bits past a row's last pixel are ignored,
// as the decoder ignores them. `palette` names the palette in the message.
std::string palette_index_problem(const uint8_t* pixels, uint64_t row_bytes, int64_t width, int64_t rows,
                                  uint32_t bpp, int64_t colours, const char* palette) {
  for (int64_t y = 0; y < rows; ++y) {
    const uint8_t* row = pixels + uint64_t(y) * row_bytes;
    for (int64_t x = 0; x < width; ++x) {
      const int index = packed_index(row, x, int(bpp));
      if (index >= colours) {
        return str_cat("expected palette indices below the ", colours, " colours of ", palette, ", found ",
                       index, " in stored row ", y, ", column ", x);
      }
    }
  }
  return {};
}

}  // namespace

std::string bmp_size_problem(const uint8_t* bytes, size_t size, uint64_t file_size) {
  if (size < 2 || bytes[0] != 'B' || bytes[1] != 'M') return {};
  // A 14-byte file header (the pixels' offset at byte 10), then an info header that starts with its own
  // size: 12 for OS/2's BITMAPCOREHEADER (16-bit width and height, never compressed), 40 or more for the
  // Windows headers. These are the sizes stb_image reads.
  constexpr size_t kFileHeader = 14;
  if (size < kFileHeader + 4) {
    return str_cat("expected a BMP file header and info header, found only ", file_size, " bytes");
  }
  const uint32_t info_size = le32(bytes + kFileHeader);
  if (info_size != 12 && info_size != 40 && info_size != 56 && info_size != 108 && info_size != 124) {
    return str_cat("expected a BMP info header of 12, 40, 56, 108 or 124 bytes, found one of ", info_size);
  }
  const size_t headers = kFileHeader + info_size;
  if (size < headers) return str_cat("expected ", headers, " bytes of BMP headers, found ", file_size);

  const bool core = info_size == 12;
  const int64_t width = core ? int64_t(le16(bytes + 18)) : int64_t(int32_t(le32(bytes + 18)));
  const int64_t height = core ? int64_t(le16(bytes + 20)) : int64_t(int32_t(le32(bytes + 22)));
  const uint32_t bpp = le16(bytes + (core ? 24 : 28));
  const uint32_t compression = core ? 0 : le32(bytes + 30);
  if (compression != 0 && compression != 3) return {};  // not BI_RGB nor BI_BITFIELDS: left to stb_image

  if (width < 1 || width > kMaxSide) {
    return str_cat("expected a BMP width of 1 to ", kMaxSide, " pixels, found ", width);
  }
  // A negative height means the rows are stored top-down.
  if (height == 0 || std::abs(height) > kMaxSide) {
    return str_cat("expected a BMP height of 1 to ", kMaxSide, " pixels (or -1 to -", kMaxSide,
                   " for rows stored top-down), found ", height);
  }
  if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32) {
    return str_cat("expected 1, 4, 8, 16, 24 or 32 bits per BMP pixel, found ", bpp);
  }
  const uint64_t offset = le32(bytes + 10);
  if (offset < headers) {
    return str_cat("expected the BMP pixel data after the ", headers,
                   " bytes of headers, found it at offset ", offset);
  }
  // Each row is padded to a multiple of 4 bytes, the last one too.
  const uint64_t row_bytes = (bpp * uint64_t(width) + 31) / 32 * 4;
  const uint64_t pixel_bytes = row_bytes * uint64_t(std::abs(height));
  if (file_size < offset + pixel_bytes) {
    return str_cat("expected ", pixel_bytes, " bytes of pixel data at offset ", offset, ", found ",
                   file_size > offset ? file_size - offset : 0);
  }
  if (bpp > 8) return {};
  // The palette fills the bytes between the headers and the pixels: 3 bytes a colour after an OS/2 header,
  // 4 after a Windows one. stb_image counts it as below and refuses a count of 0 or above 256 itself; its
  // OS/2 count subtracts 24 bytes of headers where there are 12, so it reads 4 colours fewer than there are.
  const int64_t colours = core ? (int64_t(offset) - 38) / 3 : (int64_t(offset) - int64_t(headers)) / 4;
  const char* palette = core ? "the OS/2 BMP's palette as stb_image 2.27 counts it (4 fewer than it holds; a "
                               "Windows BMP, with a "
                               "40-byte header, is read whole)"
                             : "the BMP's palette";
  if (colours < 0) return str_cat("expected palette indices below the 0 colours of ", palette);
  if (colours == 0 || colours > 256 || size < offset + pixel_bytes) return {};  // only the headers given
  return palette_index_problem(bytes + offset, row_bytes, width, std::abs(height), bpp, colours, palette);
}

}  // namespace ssl::data
