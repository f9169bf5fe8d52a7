#include "data/jpeg_tables.h"

#include "core/error.h"

namespace ssl::data {
namespace {

// The byte at `i`, or 0 past the end (as the decoder reads a short buffer).
int byte_at(const uint8_t* bytes, size_t size, size_t i) { return i < size ? bytes[i] : 0; }

int be16_at(const uint8_t* bytes, size_t size, size_t i) {
  return byte_at(bytes, size, i) << 8 | byte_at(bytes, size, i + 1);
}

// What the walk has seen so far: the Huffman tables defined ([class][id], class 0 for DC and 1 for AC, ids 0
// to 3), the quantization tables defined (ids 0 to 3), and the frame's components (id and quantization
// table).
struct TablesDefined {
  bool huffman[2][4] = {};
  bool quantization[4] = {};
  int components = 0;
  int component_id[4] = {}, component_table[4] = {};
};

// Checks the tables of the DHT segment whose length field is at `p`, reading them as the decoder does:
// table after table while the declared length lasts, even past it. Marks each table it reads as defined.
std::string dht_problem(const uint8_t* bytes, size_t size, size_t p, TablesDefined& defined) {
  int left = be16_at(bytes, size, p) - 2;
  p += 2;
  while (left > 0) {
    const int q = byte_at(bytes, size, p++);
    if ((q >> 4) > 1 || (q & 15) > 3) return {};  // the decoder refuses this table itself
    defined.huffman[q >> 4][q & 15] = true;
    int codes = 0;
    for (int i = 0; i < 16; ++i) codes += byte_at(bytes, size, p++);
    if (codes > 256) {
      return str_cat("a Huffman table declares ", codes, " codes, at most 256 are possible");
    }
    p += size_t(codes);
    left -= 17 + codes;
  }
  return {};
}

// Marks the quantization tables of the DQT segment whose length field is at `p` as defined, reading them as
// the decoder does: table after table (64 entries of 1 or 2 bytes) while the declared length lasts.
void read_dqt(const uint8_t* bytes, size_t size, size_t p, TablesDefined& defined) {
  int left = be16_at(bytes, size, p) - 2;
  p += 2;
  while (left > 0) {
    const int q = byte_at(bytes, size, p++);
    const int precision = q >> 4, id = q & 15;
    if (precision > 1 || id > 3) return;  // the decoder refuses this table itself
    defined.quantization[id] = true;
    p += size_t(64 * (precision + 1));
    left -= 1 + 64 * (precision + 1);
  }
}

// Records the frame's components (SOF segment whose length field is at `p`): id and quantization table.
void read_frame(const uint8_t* bytes, size_t size, size_t p, TablesDefined& defined) {
  const int components = byte_at(bytes, size, p + 7);
  defined.components = 0;
  if (components < 1 || components > 4) return;  // the decoder refuses the frame itself
  for (int c = 0; c < components; ++c) {
    defined.component_id[c] = byte_at(bytes, size, p + 8 + 3 * size_t(c));
    defined.component_table[c] = byte_at(bytes, size, p + 10 + 3 * size_t(c));
  }
  defined.components = components;
}

// Checks that the scan (SOS segment) whose length field is at `p` uses only tables defined before it. The
// decoder checks a table id's range but not that the table exists, and decodes with whatever memory the
// missing table occupies. A progressive frame's DC scans use only DC Huffman tables (the refinements none),
// its AC scans only AC ones; other frames use both. Every component of a scan needs its quantization table.
std::string sos_problem(const uint8_t* bytes, size_t size, size_t p, bool progressive,
                        const TablesDefined& defined) {
  const int components = byte_at(bytes, size, p + 2);
  const size_t tables_at = p + 3, spectral_start_at = tables_at + 2 * size_t(components);
  const bool dc_scan = byte_at(bytes, size, spectral_start_at) == 0;
  const bool dc_refinement = (byte_at(bytes, size, spectral_start_at + 2) >> 4) != 0;
  const bool uses_dc = !progressive || (dc_scan && !dc_refinement), uses_ac = !progressive || !dc_scan;
  for (int c = 0; c < components; ++c) {
    const int id = byte_at(bytes, size, tables_at + 2 * size_t(c));
    const int q = byte_at(bytes, size, tables_at + 2 * size_t(c) + 1);
    if ((q >> 4) > 3 || (q & 15) > 3) return {};  // the decoder refuses this scan itself
    if (uses_dc && !defined.huffman[0][q >> 4])
      return str_cat("a scan uses DC Huffman table ", q >> 4, ", never defined");
    if (uses_ac && !defined.huffman[1][q & 15])
      return str_cat("a scan uses AC Huffman table ", q & 15, ", never defined");
    for (int k = 0; k < defined.components; ++k) {
      const int table = defined.component_table[k];
      if (defined.component_id[k] == id && table <= 3 && !defined.quantization[table])
        return str_cat("component ", id, " uses quantization table ", table, ", never defined");
    }
  }
  return {};
}

bool is_frame_header(int m) { return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC; }

}  // namespace

std::string jpeg_table_problem(const uint8_t* bytes, size_t size, bool header_only, bool* needs_more) {
  if (needs_more) *needs_more = false;
  // The start-of-image marker, which like every marker may follow any number of 0xFF fill bytes.
  size_t p = 0;
  while (p < size && bytes[p] == 0xFF) ++p;
  if (p == 0 || p >= size || bytes[p] != 0xD8) return {};
  ++p;
  TablesDefined defined;
  bool progressive = false;
  while (p < size) {
    if (bytes[p] != 0xFF) {  // padding between segments, which the decoder skips before the frame header
      ++p;
      continue;
    }
    while (p < size && bytes[p] == 0xFF) ++p;  // fill bytes
    if (p >= size) break;
    const int m = bytes[p++];
    if (m == 0xD9) return {};                             // end of image
    if (m == 0x01 || (m >= 0xD0 && m <= 0xD8)) continue;  // markers without a segment
    if (header_only && is_frame_header(m)) return {};
    if (m == 0xC2) progressive = true;
    if (m == 0xDB) read_dqt(bytes, size, p, defined);
    if (is_frame_header(m)) read_frame(bytes, size, p, defined);
    std::string problem = m == 0xC4   ? dht_problem(bytes, size, p, defined)
                          : m == 0xDA ? sos_problem(bytes, size, p, progressive, defined)
                                      : std::string();
    if (!problem.empty()) return problem;
    const int length = be16_at(bytes, size, p);
    if (length < 2) return {};  // the decoder refuses the segment
    p += size_t(length);
    if (m == 0xDA) {
      // Entropy-coded data: 0xFF is followed by 0x00 (a stuffed byte), a restart marker or more 0xFF; any
      // other byte after it is the next marker, where the walk goes on.
      while (p + 1 < size && !(bytes[p] == 0xFF && bytes[p + 1] != 0x00 && bytes[p + 1] != 0xFF &&
                               !(bytes[p + 1] >= 0xD0 && bytes[p + 1] <= 0xD7))) {
        ++p;
      }
      if (p + 1 >= size) return {};
    }
  }
  if (needs_more) *needs_more = header_only;
  return {};
}

}  // namespace ssl::data
