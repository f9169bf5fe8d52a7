// jpeg_huffman_problem: a check of a JPEG's Huffman tables (DHT segments) made before stb_image sees the
// bytes. stb_image 2.27 copies a table's codes into fixed 256-entry arrays without checking that the 16
// code counts add up to at most 256, so a corrupt table writes past them (it is checked from 2.28 on). The
// walk follows the segments the way the decoder reads them, and inside entropy-coded data it stops at every
// marker, so every table the decoder would build is checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ssl::data {

// Why the bytes' Huffman tables are corrupt, or empty when they are fine or the bytes are not a JPEG (no
// start-of-image marker). With `header_only` the walk stops at the frame header (SOF), the part stbi_info
// reads; then
// `*needs_more`, when given, is set when the bytes end before that point (a prefix of a longer file).
std::string jpeg_huffman_problem(const uint8_t* bytes, size_t size, bool header_only = false,
                                 bool* needs_more = nullptr);

}  // namespace ssl::data
