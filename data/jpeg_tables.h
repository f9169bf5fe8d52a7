// jpeg_table_problem: a check of a JPEG's tables made before stb_image sees the bytes, for three corruptions
// stb_image 2.27 does not catch. It copies a Huffman table's codes (DHT segment) into fixed 256-entry arrays
// without checking that the 16 code counts add up to at most 256, so a corrupt table writes past them
// (checked from 2.28 on); a scan (SOS segment) may name a Huffman table id that no DHT defined, which it
// then decodes with, reading indices out of whatever memory the table occupies; and a frame's component may
// name a quantization table that no DQT segment defined, with which it then dequantizes, so that the pixels
// depend on what the decoder's memory held before. The walk follows the segments the way the decoder reads
// them, and inside entropy-coded data it stops at every marker, so every table the decoder would build and
// every scan it would decode is checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ssl::data {

// Why the bytes' tables are corrupt, or empty when they are fine or the bytes are not a JPEG (no
// start-of-image marker). With `header_only` the walk stops at the frame header (SOF), the part stbi_info
// reads; then
// `*needs_more`, when given, is set when the bytes end before that point (a prefix of a longer file).
std::string jpeg_table_problem(const uint8_t* bytes, size_t size, bool header_only = false,
                               bool* needs_more = nullptr);

}  // namespace ssl::data
