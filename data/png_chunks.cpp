#include "data/png_chunks.h"

#include <stb_image.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "core/error.h"
#include "data/packed_index.h"

namespace ssl::data {
namespace {

uint32_t be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

constexpr uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

std::string hex32(uint32_t v) {
  char text[11];
  std::snprintf(text, sizeof text, "0x%08x", unsigned(v));
  return text;
}

// What the chunks say: the header (IHDR), the palette's size, where the image data lies (every IDAT chunk's
// data, in order; joined only when it is inflated) and how long it is in all, and whether the file is
// Apple's variant (CgBI), whose data has no zlib header.
struct PngParts {
  bool have_header = false, apple = false;
  uint64_t width = 0, height = 0;
  int depth = 0, colour = 0, interlace = 0;
  int64_t palette_colours = 0;
  std::vector<std::pair<const uint8_t*, size_t>> data_parts;
  uint64_t data_bytes = 0;
};

// Channels of a PNG colour type (grey, RGB, palette index, grey + alpha, RGBA); 0 for none of them.
int channels_of(int colour) {
  switch (colour) {
    case 0:
      return 1;
    case 2:
      return 3;
    case 3:
      return 1;
    case 4:
      return 2;
    case 6:
      return 4;
  }
  return 0;
}

// The image's passes, width x height each: the whole image, or Adam7's seven sub-images when interlaced
// (the empty ones included, which hold no bytes).
struct Pass {
  uint64_t width, height;
};
std::vector<Pass> passes_of(const PngParts& png) {
  if (png.interlace == 0) return {{png.width, png.height}};
  static constexpr uint64_t x0[7] = {0, 4, 0, 2, 0, 1, 0}, y0[7] = {0, 0, 4, 0, 2, 0, 1};
  static constexpr uint64_t dx[7] = {8, 8, 4, 4, 2, 2, 1}, dy[7] = {8, 8, 8, 4, 4, 2, 2};
  std::vector<Pass> passes;
  for (int p = 0; p < 7; ++p) {
    const uint64_t w = png.width > x0[p] ? (png.width - x0[p] + dx[p] - 1) / dx[p] : 0;
    const uint64_t h = png.height > y0[p] ? (png.height - y0[p] + dy[p] - 1) / dy[p] : 0;
    passes.push_back({w, h});
  }
  return passes;
}

// Bytes of one row of `width` pixels of `bits` bits each, without its filter byte.
uint64_t row_bytes(uint64_t width, uint64_t bits) { return (width * bits + 7) / 8; }

int paeth(int a, int b, int c) {
  const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

// Undoes the row filters of a pass of palette indices (one byte or less a pixel, so a filter's "left" is
// the byte before) in place, and returns the first index beyond the palette. `rows` points at the pass's
// first filter byte.
std::string palette_index_problem(uint8_t* rows, const Pass& pass, int depth, int64_t colours,
                                  int pass_number) {
  const uint64_t stride = 1 + row_bytes(pass.width, uint64_t(depth));
  for (uint64_t y = 0; y < pass.height; ++y) {
    uint8_t* row = rows + y * stride;
    uint8_t* cur = row + 1;
    const uint8_t* up = y > 0 ? row - stride + 1 : nullptr;
    for (uint64_t i = 0; i + 1 < stride; ++i) {
      const int left = i > 0 ? cur[i - 1] : 0, above = up ? up[i] : 0, corner = up && i > 0 ? up[i - 1] : 0;
      switch (row[0]) {
        case 0:
          break;
        case 1:
          cur[i] = uint8_t(cur[i] + left);
          break;
        case 2:
          cur[i] = uint8_t(cur[i] + above);
          break;
        case 3:
          cur[i] = uint8_t(cur[i] + (left + above) / 2);
          break;
        case 4:
          cur[i] = uint8_t(cur[i] + paeth(left, above, corner));
          break;
        default:
          return str_cat("PNG row ", y, " has filter type ", int(row[0]), "; expected 0 to 4");
      }
    }
    for (uint64_t x = 0; x < pass.width; ++x) {
      const int index = packed_index(cur, int64_t(x), depth);
      if (index >= colours) {
        return str_cat("expected palette indices below the ", colours,
                       " colours of the PNG's palette, found ", index, " in row ", y, ", column ", x,
                       pass_number > 0 ? str_cat(" of interlaced pass ", pass_number) : std::string());
      }
    }
  }
  return {};
}

// How much image data may follow the pixels. stb_image 2.27 accepts any amount (encoders in the wild leave
// some); a limit is what keeps a few hundred bytes that inflate to gigabytes from being inflated.
constexpr uint64_t kSlackBytes = uint64_t(16) << 20;

// A bound on what deflate makes of one byte, one above the 1032 it can reach, so that no valid file is
// refused.
constexpr uint64_t kMostInflatedPerByte = 1033;

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

// The checks that need the image data: that it inflates to what the header's pixels need and at most
// kSlackBytes more, and that a palette image's indices lie within its palette (stb_image looks them up in
// an uninitialised 256-entry array).
std::string image_data_problem(const PngParts& png, int64_t max_pixels) {
  const int channels = channels_of(png.colour);
  // Anything the decoder refuses itself, or a size the caller refuses, is left to them.
  const bool depth_ok = png.depth == 1 || png.depth == 2 || png.depth == 4 || png.depth == 8 ||
                        (png.depth == 16 && png.colour != 3);
  if (!png.have_header || channels == 0 || !depth_ok || png.width == 0 || png.height == 0 ||
      png.interlace > 1)
    return {};
  if (png.width * png.height > uint64_t(max_pixels)) return {};
  const uint64_t bits = uint64_t(png.depth) * uint64_t(channels);
  const std::vector<Pass> passes = passes_of(png);
  uint64_t expected = 0;
  for (const Pass& p : passes)
    expected += p.width > 0 && p.height > 0 ? p.height * (1 + row_bytes(p.width, bits)) : 0;
  // Deflate makes at most 1032 bytes of one (a 258-byte match in two bits). Data too short to make the
  // header's pixels is refused here, before the decoder reserves their memory (8192 x 8192 16-bit RGBA
  // would be 512 MB for a file of a few dozen bytes).
  if (png.data_bytes * kMostInflatedPerByte < expected) {
    return str_cat("the PNG has ", png.data_bytes, " bytes of image data, too few to inflate to the ",
                   expected, " its header declares (at least ", ceil_div(expected, kMostInflatedPerByte),
                   " are needed)");
  }
  // stb_zlib takes an int length (the default max_pixels keeps `expected` far below it). The buffer is not
  // filled first: only the bytes inflated are ever touched.
  if (expected >= uint64_t(INT_MAX) - 1) return {};
  const uint64_t limit = std::min<uint64_t>(expected + kSlackBytes, uint64_t(INT_MAX) - 1);
  // Data too short to pass the limit need not be inflated unless the image has a palette to check: it would
  // only repeat the decoder's work.
  if (png.colour != 3 && png.data_bytes * kMostInflatedPerByte <= limit) return {};
  std::vector<uint8_t> data;
  data.reserve(size_t(png.data_bytes));
  for (const auto& [at, n] : png.data_parts) data.insert(data.end(), at, at + n);
  const std::unique_ptr<uint8_t[]> raw(new uint8_t[size_t(limit) + 1]);
  const auto decode = png.apple ? stbi_zlib_decode_noheader_buffer : stbi_zlib_decode_buffer;
  const int inflated = decode(reinterpret_cast<char*>(raw.get()), int(limit) + 1,
                              reinterpret_cast<const char*>(data.data()), int(data.size()));
  if (inflated < 0 || uint64_t(inflated) > limit) {
    return str_cat("the PNG's image data cannot be inflated within ", limit, " bytes, the ", expected,
                   " its header declares and ", limit - expected,
                   " more: it is corrupt, or far longer than its pixels");
  }
  if (uint64_t(inflated) < expected) {
    return str_cat("the PNG's image data inflates to ", inflated, " bytes; its header declares ", expected);
  }
  if (png.colour != 3 || png.palette_colours <= 0) return {};  // no palette: the decoder refuses that itself
  uint8_t* rows = raw.get();
  for (size_t p = 0; p < passes.size(); ++p) {
    if (passes[p].width == 0 || passes[p].height == 0) continue;
    std::string problem = palette_index_problem(rows, passes[p], png.depth, png.palette_colours,
                                                png.interlace ? int(p) + 1 : 0);
    if (!problem.empty()) return problem;
    rows += passes[p].height * (1 + row_bytes(passes[p].width, bits));
  }
  return {};
}

}  // namespace

bool png_declared_size(const uint8_t* bytes, size_t size, uint64_t& width, uint64_t& height) {
  if (size < 24 || !std::equal(kPngSignature, kPngSignature + 8, bytes) ||
      std::memcmp(bytes + 12, "IHDR", 4) != 0)
    return false;
  width = be32(bytes + 16);
  height = be32(bytes + 20);
  return true;
}

uint32_t png_crc32(const uint8_t* bytes, size_t size) {
  // Table k holds what a byte value contributes k bytes before the end of an 8-byte step (table 0: the
  // reflected remainder after its own eight division steps), so that eight bytes take eight lookups and no
  // chain of dependent shifts: several times the speed of a byte at a time.
  static const auto kTables = [] {
    std::array<std::array<uint32_t, 256>, 8> t{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[0][n] = c;
    }
    for (size_t k = 1; k < 8; ++k)
      for (uint32_t n = 0; n < 256; ++n) t[k][n] = (t[k - 1][n] >> 8) ^ t[0][t[k - 1][n] & 0xFF];
    return t;
  }();
  const auto le32 = [](const uint8_t* p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
  };
  uint32_t c = 0xFFFFFFFFu;
  for (; size >= 8; bytes += 8, size -= 8) {
    const uint32_t lo = c ^ le32(bytes), hi = le32(bytes + 4);
    c = kTables[7][lo & 0xFF] ^ kTables[6][(lo >> 8) & 0xFF] ^ kTables[5][(lo >> 16) & 0xFF] ^
        kTables[4][lo >> 24] ^ kTables[3][hi & 0xFF] ^ kTables[2][(hi >> 8) & 0xFF] ^
        kTables[1][(hi >> 16) & 0xFF] ^ kTables[0][hi >> 24];
  }
  for (; size > 0; ++bytes, --size) c = kTables[0][(c ^ *bytes) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

void rewrite_png_crcs(uint8_t* bytes, size_t size) {
  if (size < sizeof kPngSignature || std::memcmp(bytes, kPngSignature, sizeof kPngSignature) != 0) return;
  for (size_t p = sizeof kPngSignature; p + 12 <= size;) {
    const uint64_t length = be32(bytes + p);
    if (length > size - p - 12) return;
    const uint32_t crc = png_crc32(bytes + p + 4, size_t(length) + 4);
    for (int i = 0; i < 4; ++i) bytes[p + 8 + length + size_t(i)] = uint8_t(crc >> (24 - 8 * i));
    p += 12 + size_t(length);
  }
}

std::string png_chunk_problem(const uint8_t* bytes, size_t size, int64_t max_pixels) {
  if (size < sizeof kPngSignature || std::memcmp(bytes, kPngSignature, sizeof kPngSignature) != 0) return {};
  size_t p = sizeof kPngSignature;
  PngParts png;
  // Each chunk: a 4-byte big-endian data length, a 4-byte type, the data, a 4-byte CRC.
  while (size - p >= 8) {
    const uint64_t length = be32(bytes + p);
    const std::string type(reinterpret_cast<const char*>(bytes + p + 4), 4);
    const uint64_t left = size - p - 8;
    if (length > left) {
      return str_cat("the PNG chunk at byte ", p, " (", printable(type), ") declares ", length,
                     " data bytes, but only ", left, " are left");
    }
    const uint8_t* data = bytes + p + 8;
    // stb_image reads no CRC; without this check, damaged image data would decode to wrong pixels.
    if (left - length < 4) {
      return str_cat("the PNG ends inside the CRC of its chunk at byte ", p, " (", printable(type), ")");
    }
    const uint32_t stored = be32(data + length), computed = png_crc32(bytes + p + 4, size_t(length) + 4);
    if (stored != computed) {
      return str_cat("the PNG chunk at byte ", p, " (", printable(type), ", ", length,
                     " data bytes) has the CRC ", hex32(stored), " but its bytes give ", hex32(computed));
    }
    if (type == "IEND") break;
    if (type == "CgBI") png.apple = true;
    if (type == "IHDR" && length == 13 && !png.have_header) {
      png.have_header = true;
      png.width = be32(data);
      png.height = be32(data + 4);
      png.depth = data[8];
      png.colour = data[9];
      png.interlace = data[12];
    }
    if (type == "PLTE") png.palette_colours = int64_t(length / 3);
    if (type == "IDAT") {
      png.data_parts.emplace_back(data, size_t(length));
      png.data_bytes += length;
    }
    p += 12 + size_t(length);
  }
  return image_data_problem(png, max_pixels);
}

}  // namespace ssl::data
