// png_chunk_problem: a check of a PNG made before stb_image decodes it, for four things stb_image 2.27 does
// not catch. It reads no chunk's CRC, so damaged bytes decode to wrong pixels without an error. It grows its
// buffer to an IDAT chunk's declared length before reading it, so a few bytes declaring a 2 GB chunk make it
// allocate 2 GB (a chunk longer than what is left of the file can only be a corrupt or truncated file). It
// inflates the image data into a buffer that grows as far as the data goes, so a small file can make it
// allocate gigabytes. And it looks a palette image's indices up in an uninitialised 256-entry array without
// comparing them with the palette's size, so such pixels take whatever that memory held. The check compares
// every chunk's CRC with its bytes, inflates the data itself into a buffer of the size the header declares
// and 16 MB more (the decoder accepts data after the pixels), and undoes the row filters of a palette image
// to read its indices.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ssl::data {

// Why the PNG in `bytes` (the whole file) cannot be decoded safely: a chunk that does not fit in its `size`
// bytes or whose CRC differs from its bytes', image data that does not inflate to what the header declares,
// or a palette index beyond the palette. Empty when it is fine, when the bytes are not a PNG (no PNG
// signature), when the decoder refuses the file itself (an invalid header, no palette) or when the header
// declares more than `max_pixels` pixels (the caller refuses those).
std::string png_chunk_problem(const uint8_t* bytes, size_t size, int64_t max_pixels);

// The width and height a PNG's header (IHDR, its first chunk) declares; false when `bytes` does not begin
// with a PNG signature and a header.
bool png_declared_size(const uint8_t* bytes, size_t size, uint64_t& width, uint64_t& height);

// The CRC-32 of `size` bytes as PNG computes it (ISO 3309, as zlib's crc32), over a chunk's type and data.
uint32_t png_crc32(const uint8_t* bytes, size_t size);

// Sets every chunk's CRC from its bytes, up to the first chunk that does not fit (nothing when the bytes are
// not a PNG): for tools that edit a PNG's bytes (tests, the fuzzer), so that a file they change is checked
// for what they changed.
void rewrite_png_crcs(uint8_t* bytes, size_t size);

}  // namespace ssl::data
