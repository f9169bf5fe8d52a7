// png_chunk_problem: a check of a PNG's chunk lengths made before stb_image decodes it. stb_image 2.27 grows
// its buffer to an IDAT chunk's declared length before reading it, so a few bytes declaring a 2 GB chunk make
// it allocate 2 GB; a chunk longer than what is left of the file can only be a corrupt or truncated file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ssl::data {

// Why the PNG's chunks do not fit in its `size` bytes, or empty when they do (up to IEND) or the bytes are
// not a PNG (no PNG signature).
std::string png_chunk_problem(const uint8_t* bytes, size_t size);

}  // namespace ssl::data
