// Geometry of the relative-patch-position pretext task (Doersch et al., ../shared/ALGORITHMS.md): a 3x3 grid
// of square patches with a gap between neighbours, the whole grid placed at a random spot, and every patch
// moved by its own random jitter. The functions take random words that were already drawn, so the CPU
// transform (data/transforms_extra.cpp) and a CUDA kernel compute the same offsets from the same Philox
// stream.
//
// Draw order for one grid (kDrawsPerGrid 32-bit words, as rng::Stream::next_u32 gives them):
//   word 0, 1          the grid's origin: y, then x, each uniform in [0, slack]
//   word 2 + 2k, 3 + 2k   patch k's jitter (k = 0..8, row-major): dy, then dx, each uniform in [-jitter,
//   jitter]
// Every word is drawn whether or not it is used, so the count is fixed and a kernel can index it directly.
//
// Cells are numbered row-major, 0 1 2 / 3 4 5 / 6 7 8; cell 4 is the anchor (the centre). The eight
// neighbours carry labels 0..7 in the same row-major order without the centre: top-left 0, top 1,
// top-right 2, left 3, right 4, bottom-left 5, bottom 6, bottom-right 7.
#pragma once

#include <cstdint>

#include "kernels/common/host_device.h"

namespace ssl::patch {

constexpr int kCells = 9;
constexpr int kCentreCell = 4;
constexpr int kNeighbours = 8;
constexpr int kDrawsPerGrid = 2 + 2 * kCells;

// The original setting: 96 px patches, 48 px gaps, +-7 px jitter, for a 3*96 + 2*48 = 384 px grid.
constexpr int kOriginalPatch = 96;
constexpr int kOriginalGap = 48;
constexpr int kOriginalJitter = 7;
constexpr int kOriginalGrid = 3 * kOriginalPatch + 2 * kOriginalGap;

struct GridParams {
  int patch;   // side of each square patch, in pixels
  int gap;     // pixels between neighbouring patches (before jitter)
  int jitter;  // each patch moves by up to +-jitter pixels in y and in x
};

struct Offset {
  int y, x;  // top-left corner of a patch in the image
};

// An integer uniform in [0, n) from one 32-bit word (the same rule as rng::Stream::below).
SSL_HD int draw_below(uint32_t bits, int n) { return int((uint64_t(bits) * uint64_t(n)) >> 32); }

// Side of the square the grid needs with its jitter: 3 patches, 2 gaps and a jitter margin on both sides.
SSL_HD int grid_extent(GridParams p) { return 3 * p.patch + 2 * p.gap + 2 * p.jitter; }

// The original parameters scaled to an image whose shorter side is `side` pixels: the jitter is
// round(7 side / 384), and the patch and gap keep the 2:1 ratio in what remains, so that the grid with its
// jitter fits inside the image (patch >= 1 when side >= 4). E.g. side 32: patch 7, gap 4, jitter 1;
// side 96: patch 23, gap 11, jitter 2; side 384: patch 92, gap 47, jitter 7.
SSL_HD GridParams scaled_params(int side) {
  GridParams p;
  p.jitter = (kOriginalJitter * side + kOriginalGrid / 2) / kOriginalGrid;
  const int rest = side - 2 * p.jitter;
  p.patch = rest * kOriginalPatch / kOriginalGrid;
  p.gap = (rest - 3 * p.patch) / 2;
  return p;
}

// Whether the grid with its jitter fits in an h x w image, with positive patch size.
SSL_HD bool grid_fits(GridParams p, int h, int w) {
  return p.patch > 0 && p.gap >= 0 && p.jitter >= 0 && grid_extent(p) <= h && grid_extent(p) <= w;
}

// Top-left corner of cell `cell` (0..8) for an h x w image, given the grid's kDrawsPerGrid words. Requires
// grid_fits(p, h, w); the patch then lies inside the image for every value of the words.
SSL_HD Offset patch_offset(GridParams p, int h, int w, int cell, const uint32_t* words) {
  const int extent = grid_extent(p);
  const int origin_y = draw_below(words[0], h - extent + 1);
  const int origin_x = draw_below(words[1], w - extent + 1);
  const int span = 2 * p.jitter + 1;
  const int dy = draw_below(words[2 + 2 * cell], span) - p.jitter;
  const int dx = draw_below(words[3 + 2 * cell], span) - p.jitter;
  const int row = cell / 3, col = cell % 3;
  return Offset{origin_y + p.jitter + row * (p.patch + p.gap) + dy,
                origin_x + p.jitter + col * (p.patch + p.gap) + dx};
}

// Flat index into contiguous images [n, c, h, w] of pixel (y, x) of channel ch of a patch of sample i whose
// top-left corner is (oy, ox): the whole arithmetic of the batched crop (kernels/patch_crop.h), so the CPU
// loop and a one-thread-per-element CUDA kernel read the same pixels.
SSL_HD int64_t crop_source_index(int64_t i, int64_t ch, int64_t y, int64_t x, int64_t oy, int64_t ox,
                                 int64_t c, int64_t h, int64_t w) {
  return ((i * c + ch) * h + (oy + y)) * w + (ox + x);
}

// The cell (0..8) of neighbour label 0..7, and back (-1 for the centre cell).
SSL_HD int neighbour_cell(int label) { return label < kCentreCell ? label : label + 1; }
SSL_HD int cell_label(int cell) { return cell == kCentreCell ? -1 : (cell < kCentreCell ? cell : cell - 1); }

}  // namespace ssl::patch
