// png_chunk_problem: a check of a PNG made before stb_image decodes it, for three things stb_image 2.27 does
// not catch. It grows its buffer to an IDAT chunk's declared length before reading it, so a few bytes
// declaring a 2 GB chunk make it allocate 2 GB (a chunk longer than what is left of the file can only be a
// corrupt or truncated file); it inflates the image data into a buffer that grows as far as the data goes,
// so a small file can make it allocate gigabytes; and it looks a palette image's indices up in an
// uninitialised 256-entry array without comparing them with the palette's size, so such pixels take
// whatever that memory held. The check inflates the data itself, into a buffer of the size the header
// declares and 16 MB more (the decoder accepts data after the pixels), and undoes the row filters of a
// palette image to read its indices.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ssl::data {

// Why the PNG in `bytes` (the whole file) cannot be decoded safely: a chunk that does not fit in its `size`
// bytes, image data that does not inflate to what the header declares, or a palette index beyond the
// palette. Empty when it is fine, when the bytes are not a PNG (no PNG signature), when the decoder refuses
// the file itself (an invalid header, no palette) or when the header declares more than `max_pixels` pixels
// (the caller refuses those).
std::string png_chunk_problem(const uint8_t* bytes, size_t size, int64_t max_pixels);

}  // namespace ssl::data
