// The pretext-task transforms: exact geometry, fills and masks exactly where they should be, patch offsets
// inside the image for every draw, and the contact sheet and statistics of `ssl data`.
#include <doctest/doctest.h>

#include <stb_image.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <set>
#include <thread>
#include <utility>

#include "core/error.h"
#include "data/image_grid.h"
#include "data/synthetic.h"
#include "data/transforms_extra.h"
#include "file_test_util.h"
#include "kernels/compute_threads.h"

using namespace ssl;
using namespace ssl::data;

namespace {

// A different value at every (y, x, ch), so any misplaced pixel shows.
Image ramp_image(int64_t h, int64_t w, int64_t c = 3) {
  Image img(h, w, c);
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      for (int64_t ch = 0; ch < c; ++ch) img(y, x, ch) = uint8_t((y * 37 + x * 11 + ch * 71) % 256);
    }
  }
  return img;
}

Image noise_image(int64_t h, int64_t w, int64_t c, uint64_t seed) {
  Image img(h, w, c);
  rng::Stream s(seed, 1);
  for (auto& p : img.pixels) p = uint8_t(s.next_u32() >> 24);
  return img;
}

// A 1-channel image from rows of values.
Image from_rows(const std::vector<std::vector<int>>& rows) {
  Image img(int64_t(rows.size()), int64_t(rows[0].size()), 1);
  for (int64_t y = 0; y < img.h; ++y) {
    for (int64_t x = 0; x < img.w; ++x) img(y, x, 0) = uint8_t(rows[size_t(y)][size_t(x)]);
  }
  return img;
}

double channel_mean(const Image& img, int64_t ch) {
  double s = 0;
  for (int64_t i = 0; i < img.h * img.w; ++i) s += img.pixels[size_t(i * img.c + ch)];
  return s / double(img.h * img.w);
}

double channel_std(const Image& img, int64_t ch) {
  const double m = channel_mean(img, ch);
  double s = 0;
  for (int64_t i = 0; i < img.h * img.w; ++i) {
    const double d = img.pixels[size_t(i * img.c + ch)] - m;
    s += d * d;
  }
  return std::sqrt(s / double(img.h * img.w));
}

int64_t count_ones(const std::vector<uint8_t>& v) { return std::count(v.begin(), v.end(), uint8_t(1)); }

// FNV-1a of a mask, to count distinct masks.
uint64_t fingerprint(const std::vector<uint8_t>& v) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint8_t b : v) h = (h ^ b) * 0x100000001b3ull;
  return h;
}

}  // namespace

// ---- rotations -------------------------------------------------------------------------------------------

TEST_CASE("rotate90: exact quarter turns counter-clockwise, as numpy's rot90") {
  const Image a = from_rows({{1, 2, 3}, {4, 5, 6}});
  CHECK(rotate90(a, 0) == a);
  CHECK(rotate90(a, 1) == from_rows({{3, 6}, {2, 5}, {1, 4}}));
  CHECK(rotate90(a, 2) == from_rows({{6, 5, 4}, {3, 2, 1}}));
  CHECK(rotate90(a, 3) == from_rows({{4, 1}, {5, 2}, {6, 3}}));
  CHECK(rotate90(a, -1) == rotate90(a, 3));
  CHECK(rotate90(a, 5) == rotate90(a, 1));

  const Image img = ramp_image(5, 7);  // asymmetric, 3 channels
  const auto rots = all_rotations(img);
  CHECK(rots[0] == img);
  CHECK(rots[1].h == 7);
  CHECK(rots[1].w == 5);
  CHECK(rots[1].c == 3);
  CHECK(rots[2].h == 5);
  CHECK(rots[2].w == 7);
  for (int i = 0; i < 4; ++i) {
    for (int j = i + 1; j < 4; ++j) CHECK_FALSE(rots[size_t(i)] == rots[size_t(j)]);
  }
  // Composition: one more quarter turn of rotation k gives rotation k + 1; four give the identity.
  CHECK(rotate90(rots[1], 1) == rots[2]);
  CHECK(rotate90(rots[2], 1) == rots[3]);
  CHECK(rotate90(rots[3], 1) == img);
  CHECK(rotate90(rotate90(rotate90(rotate90(img, 1), 1), 1), 1) == img);
  // Channels travel together: the top-right pixel becomes the top-left one.
  for (int64_t ch = 0; ch < 3; ++ch) CHECK(rots[1](0, 0, ch) == img(0, 6, ch));

  rng::Stream s(1, 2);
  CHECK(Rotate90(3).apply(img, s) == rots[3]);
  CHECK(Rotate90(-1).describe() == "Rotate90(k=3)");
}

// ---- blur ------------------------------------------------------------------------------------------------

TEST_CASE("gaussian_blur: constant images unchanged, the mean kept, noise smoothed, torchvision's weights") {
  const Image flat(13, 17, 3, 137);
  for (double sigma : {0.1, 0.7, 2.0, 5.0}) {
    for (int64_t k : {0, 3, 9, 31})
      CHECK(gaussian_blur(flat, sigma, k) == flat);  // 31 > the image: reflected
  }

  const Image noise = noise_image(32, 32, 3, 7);
  const Image blurred = gaussian_blur(noise, 1.5, 7);
  for (int64_t ch = 0; ch < 3; ++ch) {
    CHECK(std::abs(channel_mean(blurred, ch) - channel_mean(noise, ch)) < 1.0);
    CHECK(channel_std(blurred, ch) < 0.5 * channel_std(noise, ch));
  }

  // An impulse with sigma 1 and 3 taps: weights (e^-1/2, 1, e^-1/2) / (1 + 2 e^-1/2) = (0.2741, 0.4519,
  // 0.2741) in each direction, so 255 becomes 255 * 0.4519^2 = 52.07 at the centre, 31.6 beside it and
  // 19.2 diagonally.
  Image impulse(5, 5, 1, 0);
  impulse(2, 2, 0) = 255;
  const Image b = gaussian_blur(impulse, 1.0, 3);
  CHECK(b(2, 2, 0) == 52);
  CHECK(b(1, 2, 0) == 32);
  CHECK(b(2, 3, 0) == 32);
  CHECK(b(1, 1, 0) == 19);
  CHECK(b(3, 3, 0) == 19);
  CHECK(b(0, 0, 0) == 0);
  CHECK(b(2, 0, 0) == 0);

  // Borders are reflected without repeating the edge (torch's "reflect"): beside x = 0 lies x = 1.
  const Image edge = from_rows({{255, 0, 0, 0, 0}});
  const Image be = gaussian_blur(edge, 1.0, 3);
  CHECK(be(0, 0, 0) == 115);  // 255 * 0.4519; repeating the edge would give 255 * 0.7259 = 185
  CHECK(be(0, 1, 0) == 70);   // 255 * 0.2741
  CHECK(be(0, 2, 0) == 0);

  CHECK_THROWS_AS(gaussian_blur(flat, 1.0, 4), Error);
  CHECK_THROWS_AS(gaussian_blur(flat, 0.0, 3), Error);
  // An infinite sigma once asked for a kernel of 2^63 taps.
  CHECK_THROWS_WITH_AS(gaussian_blur(flat, std::numeric_limits<double>::infinity()),
                       doctest::Contains("gaussian_blur: sigma must be in (0, 1000]"), Error);
  CHECK_THROWS_AS(GaussianBlur(0, {0.1, std::numeric_limits<double>::infinity()}), Error);
}

TEST_CASE("GaussianBlur: probability, determinism in the stream, SimCLR's kernel size") {
  const Image noise = noise_image(24, 24, 3, 3);
  rng::Stream s0(5, 9);
  CHECK(GaussianBlur(5, {0.5, 1.5}, 0.0).apply(noise, s0) == noise);
  rng::Stream s1(5, 9), s2(5, 9), s3(5, 10);
  const GaussianBlur blur(5, {0.5, 1.5}, 1.0);
  const Image a = blur.apply(noise, s1);
  CHECK_FALSE(a == noise);
  CHECK(blur.apply(noise, s2) == a);
  CHECK_FALSE(blur.apply(noise, s3) == a);  // another sigma

  CHECK(simclr_blur(32)->describe().find("kernel_size=3,") != std::string::npos);
  CHECK(simclr_blur(96)->describe().find("kernel_size=9,") != std::string::npos);
  CHECK(simclr_blur(224)->describe().find("kernel_size=23,") != std::string::npos);
  CHECK_THROWS_AS(GaussianBlur(4), Error);
  CHECK_THROWS_AS(GaussianBlur(3, {2.0, 1.0}), Error);
  CHECK_THROWS_AS(GaussianBlur(3, {0.1, 2.0}, 1.5), Error);
}

// ---- grayscale, centre crop ------------------------------------------------------------------------------

TEST_CASE("ToGrayscale: equal channels holding the rounded luma, or one channel") {
  Image img(1, 3, 3, 0);
  img(0, 0, 0) = 255;  // red:   0.299 * 255 = 76.2
  img(0, 1, 1) = 255;  // green: 0.587 * 255 = 149.7
  img(0, 2, 2) = 255;  // blue:  0.114 * 255 = 29.1
  rng::Stream s(0, 0);
  const Image g3 = ToGrayscale(3).apply(img, s);
  REQUIRE(g3.c == 3);
  const int expected[3] = {76, 150, 29};
  for (int64_t x = 0; x < 3; ++x) {
    for (int64_t ch = 0; ch < 3; ++ch) CHECK(g3(0, x, ch) == expected[x]);
  }
  const Image ramp = ramp_image(6, 9);
  const Image r3 = ToGrayscale(3).apply(ramp, s), r1 = ToGrayscale(1).apply(ramp, s);
  REQUIRE(r1.c == 1);
  CHECK(r1.h == 6);
  CHECK(r1.w == 9);
  for (int64_t y = 0; y < 6; ++y) {
    for (int64_t x = 0; x < 9; ++x) {
      CHECK(r3(y, x, 0) == r3(y, x, 1));
      CHECK(r3(y, x, 1) == r3(y, x, 2));
      CHECK(r1(y, x, 0) == r3(y, x, 0));
    }
  }
  CHECK(ToGrayscale(3).apply(r1, s) == r3);  // grey in, grey out
  CHECK_THROWS_AS(ToGrayscale(2), Error);
}

TEST_CASE("CenterCrop and crop: exact boxes") {
  const Image img = ramp_image(10, 13);
  rng::Stream s(0, 0);
  const Image c = CenterCrop(4, 5).apply(img, s);  // corner at ((10 - 4) / 2, (13 - 5) / 2) = (3, 4)
  REQUIRE(c.h == 4);
  REQUIRE(c.w == 5);
  for (int64_t y = 0; y < 4; ++y) {
    for (int64_t x = 0; x < 5; ++x) {
      for (int64_t ch = 0; ch < 3; ++ch) CHECK(c(y, x, ch) == img(3 + y, 4 + x, ch));
    }
  }
  const Image sq = CenterCrop(5).apply(img, s);  // corner (2, 4), odd margins rounded down
  CHECK(sq == crop(img, 2, 4, 5, 5));
  CHECK(sq(0, 0, 1) == img(2, 4, 1));
  CHECK(CenterCrop(10, 13).apply(img, s) == img);
  CHECK_THROWS_AS(CenterCrop(11).apply(img, s), Error);
  CHECK_THROWS_AS(crop(img, 7, 0, 4, 4), Error);
  CHECK_THROWS_AS(crop(img, INT64_MAX, 0, 2, 2), Error);  // y0 + h once wrapped around to a small value
  CHECK_THROWS_AS(crop(img, 0, -1, 4, 4), Error);
}

// ---- masked region ---------------------------------------------------------------------------------------

TEST_CASE("mask_region, centre: the fill exactly on hidden pixels, the rest untouched, the overlap band") {
  const Image img = ramp_image(32, 32);
  MaskOptions o;
  o.fill = {0.5f, 0.25f, 1.0f};  // bytes 128, 64, 255
  rng::Stream s(3, 4);
  const MaskedImage m = mask_region(img, o, s);
  REQUIRE(m.mask.size() == 32 * 32);
  REQUIRE(m.loss_region.size() == 32 * 32);
  CHECK(m.overlap == 1);                        // round(16 / 16)
  CHECK(count_ones(m.loss_region) == 16 * 16);  // the hole: 16 x 16 at (8, 8)
  CHECK(count_ones(m.mask) == 14 * 14);         // the encoder's mask, 1 px smaller on every side
  const uint8_t fill[3] = {128, 64, 255};
  for (int64_t y = 0; y < 32; ++y) {
    for (int64_t x = 0; x < 32; ++x) {
      const size_t i = size_t(y * 32 + x);
      const bool in_hole = y >= 8 && y < 24 && x >= 8 && x < 24;
      const bool hidden = y >= 9 && y < 23 && x >= 9 && x < 23;
      CHECK(bool(m.loss_region[i]) == in_hole);
      CHECK(bool(m.mask[i]) == hidden);
      CHECK(m.in_overlap_band(y, x) == (in_hole && !hidden));
      for (int64_t ch = 0; ch < 3; ++ch) CHECK(m.image(y, x, ch) == (hidden ? fill[ch] : img(y, x, ch)));
    }
  }
  // Centre mode draws nothing from the stream.
  rng::Stream fresh(3, 4);
  CHECK(s.next_u32() == fresh.next_u32());

  o.overlap = 3;
  const MaskedImage m3 = mask_region(img, o, s);
  CHECK(count_ones(m3.loss_region) == 16 * 16);
  CHECK(count_ones(m3.mask) == 10 * 10);
  o.overlap = 0;
  CHECK(mask_region(img, o, s).mask == m3.loss_region);
  o.overlap = 8;  // nothing would be hidden
  CHECK_THROWS_AS(mask_region(img, o, s), Error);
  o.overlap = -1;
  o.fill = {0.1f, 0.2f};  // two values for three channels
  CHECK_THROWS_AS(mask_region(img, o, s), Error);
  o.fill = {};
  const MaskedImage zero = mask_region(img, o, s);
  CHECK(zero.image(16, 16, 2) == 0);
  rng::Stream t(3, 4);
  CHECK(MaskRegion(o).apply(img, t) == zero.image);
}

TEST_CASE("mask_region, random blocks: coverage reached, blocks inside, fill exact, seeded") {
  const Image img = ramp_image(32, 32);
  MaskOptions o;
  o.mode = MaskOptions::Mode::random_blocks;
  o.block_fraction = 0.25;  // 8 x 8 blocks
  o.coverage = 0.25;        // at least 256 pixels
  o.fill = {0.5f};
  std::set<uint64_t> distinct;
  bool top = false, bottom = false, left = false, right = false;
  for (uint64_t seed = 0; seed < 100; ++seed) {
    rng::Stream s(seed, 0);
    const MaskedImage m = mask_region(img, o, s);
    const int64_t covered = count_ones(m.loss_region);
    CHECK(covered >= 256);
    CHECK(covered < 256 + 64);  // the last block adds at most 64 pixels
    CHECK(m.overlap == 1);      // lround(8 / 16)
    CHECK(count_ones(m.mask) > 0);
    CHECK(count_ones(m.mask) < covered);  // each block's 1 px rim is left visible to the encoder
    for (int64_t y = 0; y < 32; ++y) {
      for (int64_t x = 0; x < 32; ++x) {
        const size_t i = size_t(y * 32 + x);
        if (m.mask[i]) CHECK(m.loss_region[i] == 1);
        for (int64_t ch = 0; ch < 3; ++ch) CHECK(m.image(y, x, ch) == (m.mask[i] ? 128 : img(y, x, ch)));
        if (m.loss_region[i]) {
          top = top || y == 0;
          bottom = bottom || y == 31;
          left = left || x == 0;
          right = right || x == 31;
        }
      }
    }
    distinct.insert(fingerprint(m.loss_region));
    rng::Stream again(seed, 0);
    CHECK(mask_region(img, o, again).mask == m.mask);
  }
  CHECK(distinct.size() > 90);
  CHECK(top);  // blocks reach every edge
  CHECK(bottom);
  CHECK(left);
  CHECK(right);

  // One block covers 64 of 1,024 pixels: a quarter is out of its reach, refused rather than cut short.
  o.max_blocks = 1;
  rng::Stream s(1, 1);
  CHECK(test::contains(
      test::error_of([&] { mask_region(img, o, s); }),
      "1 blocks of 8 px cover about 6% of a 32x32 image on average, short of the coverage 0.25"));
  o.coverage = 0.06;  // within reach: one block
  CHECK(count_ones(mask_region(img, o, s).loss_region) == 64);
}

TEST_CASE("check_mask_options names the first option out of its range, for the mode in use") {
  MaskOptions o;
  CHECK_NOTHROW(check_mask_options(o));
  o.hole_fraction = 0;
  CHECK(test::contains(test::error_of([&] { check_mask_options(o); }),
                       "hole_fraction must be in (0, 1], got 0"));
  o.hole_fraction = 0.5;
  o.overlap = -5;  // -1 is the automatic overlap; other negatives are mistakes
  CHECK(test::contains(test::error_of([&] { check_mask_options(o); }),
                       "overlap must be -1 (side / 16) or at least 0 pixels, got -5"));
  o.overlap = -1;
  o.mode = MaskOptions::Mode::random_blocks;
  o.hole_fraction = 7;  // not used by this mode
  o.coverage = 1.5;
  CHECK(
      test::contains(test::error_of([&] { check_mask_options(o); }), "coverage must be in (0, 1], got 1.5"));
}

// ---- patch grid ------------------------------------------------------------------------------------------

TEST_CASE("patch_grid.h: scaled parameters, offsets inside the image for every draw, labels") {
  CHECK(patch::scaled_params(32).patch == 7);
  CHECK(patch::scaled_params(32).gap == 4);
  CHECK(patch::scaled_params(32).jitter == 1);
  CHECK(patch::scaled_params(96).patch == 23);
  CHECK(patch::scaled_params(96).gap == 11);
  CHECK(patch::scaled_params(96).jitter == 2);
  CHECK(patch::scaled_params(384).patch == 92);
  CHECK(patch::scaled_params(384).gap == 47);
  CHECK(patch::scaled_params(384).jitter == 7);

  const std::vector<std::pair<int, int>> sizes = {{4, 4},   {32, 32},   {40, 64},  {64, 40},
                                                  {96, 96}, {150, 200}, {384, 384}};
  for (const auto& [h, w] : sizes) {
    const patch::GridParams p = patch::scaled_params(std::min(h, w));
    REQUIRE(patch::grid_fits(p, h, w));
    CHECK(patch::grid_extent(p) <= std::min(h, w));
    // Extreme words (every draw at its minimum, at its maximum) and random ones.
    uint32_t lo[patch::kDrawsPerGrid], hi[patch::kDrawsPerGrid];
    std::fill(std::begin(lo), std::end(lo), 0u);
    std::fill(std::begin(hi), std::end(hi), 0xFFFFFFFFu);
    CHECK(patch::patch_offset(p, h, w, 0, lo).y == 0);
    CHECK(patch::patch_offset(p, h, w, 0, lo).x == 0);
    CHECK(patch::patch_offset(p, h, w, 8, hi).y == h - p.patch);  // the far corner is reached exactly
    CHECK(patch::patch_offset(p, h, w, 8, hi).x == w - p.patch);
    rng::Stream s(uint64_t(h * 1000 + w), 0);
    for (int trial = 0; trial < 200; ++trial) {
      uint32_t words[patch::kDrawsPerGrid];
      for (auto& word : words) word = trial == 0 ? 0u : (trial == 1 ? 0xFFFFFFFFu : s.next_u32());
      patch::Offset off[patch::kCells];
      for (int cell = 0; cell < patch::kCells; ++cell) {
        off[cell] = patch::patch_offset(p, h, w, cell, words);
        CHECK(off[cell].y >= 0);
        CHECK(off[cell].x >= 0);
        CHECK(off[cell].y + p.patch <= h);
        CHECK(off[cell].x + p.patch <= w);
      }
      // Scaled grids keep gap >= 2 jitter, so neighbours never overlap: each is right of / below the last.
      for (int r = 0; r < 3; ++r) {
        for (int c = 0; c < 2; ++c) CHECK(off[r * 3 + c + 1].x >= off[r * 3 + c].x + p.patch);
      }
      for (int r = 0; r < 2; ++r) {
        for (int c = 0; c < 3; ++c) CHECK(off[(r + 1) * 3 + c].y >= off[r * 3 + c].y + p.patch);
      }
    }
  }
  CHECK_FALSE(patch::grid_fits(patch::scaled_params(3), 3, 3));

  const int cells[8] = {0, 1, 2, 3, 5, 6, 7, 8};
  for (int label = 0; label < 8; ++label) {
    CHECK(patch::neighbour_cell(label) == cells[label]);
    CHECK(patch::cell_label(cells[label]) == label);
  }
  CHECK(patch::cell_label(patch::kCentreCell) == -1);
}

TEST_CASE("PatchGrid: patches cut at their offsets, labels point at the right neighbour, seeded, jittered") {
  const Image img = ramp_image(46, 46);  // patch 10, gap 5, jitter 3: extent 46, so the grid origin is 0
  const PatchGrid pg({10, 5, 3});
  const patch::GridParams p = pg.params(46, 46);
  CHECK(p.patch == 10);
  CHECK(patch::grid_extent(p) == 46);

  // Row/column direction of each label from the anchor.
  const int dir_y[8] = {-1, -1, -1, 0, 0, 1, 1, 1}, dir_x[8] = {-1, 0, 1, -1, 1, -1, 0, 1};
  std::vector<std::set<int>> jitter_y(9), jitter_x(9);
  std::set<int64_t> labels;
  for (uint64_t seed = 0; seed < 300; ++seed) {
    rng::Stream s(seed, 77);
    const PatchPair pair = pg.pair(img, s);
    REQUIRE(pair.label >= 0);
    REQUIRE(pair.label < 8);
    labels.insert(pair.label);
    const auto& g = pair.grid;
    for (int cell = 0; cell < 9; ++cell) {
      const patch::Offset o = g.offsets[size_t(cell)];
      const Image& pt = g.patches[size_t(cell)];
      REQUIRE(pt.h == 10);
      REQUIRE(pt.w == 10);
      CHECK(pt == crop(img, o.y, o.x, 10, 10));
      jitter_y[size_t(cell)].insert(o.y - (3 + (cell / 3) * 15));
      jitter_x[size_t(cell)].insert(o.x - (3 + (cell % 3) * 15));
    }
    CHECK(pair.anchor == g.patches[4]);
    CHECK(pair.query == g.patches[size_t(patch::neighbour_cell(int(pair.label)))]);
    const patch::Offset a = g.offsets[4], q = g.offsets[size_t(patch::neighbour_cell(int(pair.label)))];
    const int l = int(pair.label);
    // A neighbour in direction d sits 15 px (patch + gap) away, give or take two jitters of 3 px.
    CHECK(std::abs((q.y - a.y) - 15 * dir_y[l]) <= 6);
    CHECK(std::abs((q.x - a.x) - 15 * dir_x[l]) <= 6);

    rng::Stream again(seed, 77);
    const PatchPair same = pg.pair(img, again);
    CHECK(same.label == pair.label);
    CHECK(same.query == pair.query);
    CHECK(same.anchor == pair.anchor);
  }
  CHECK(labels.size() == 8);
  for (int cell = 0; cell < 9; ++cell) {  // every jitter value from -3 to 3 occurs, and nothing else
    CHECK(jitter_y[size_t(cell)] == std::set<int>{-3, -2, -1, 0, 1, 2, 3});
    CHECK(jitter_x[size_t(cell)] == std::set<int>{-3, -2, -1, 0, 1, 2, 3});
  }

  // Scaled to the image (46 px: patches of 11, gaps of 5, jitter 1, a 45 px grid), moving between seeds.
  const PatchGrid scaled;
  std::set<std::pair<int, int>> anchors;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    rng::Stream s(seed, 1);
    const PatchGridSample g = scaled.grid(img, s);
    CHECK(g.patches[0].h == patch::scaled_params(46).patch);
    anchors.insert({g.offsets[4].y, g.offsets[4].x});
  }
  CHECK(anchors.size() > 5);

  // The draw contract of patch_grid.h: kDrawsPerGrid words straight from the stream, so a kernel that
  // draws them from the same (seed, stream) gets the same offsets.
  {
    rng::Stream s(42, 5), words_stream(42, 5);
    const PatchGridSample g = scaled.grid(img, s);
    uint32_t words[patch::kDrawsPerGrid];
    for (auto& word : words) word = words_stream.next_u32();
    const patch::GridParams sp = patch::scaled_params(46);
    for (int cell = 0; cell < 9; ++cell) {
      const patch::Offset o = patch::patch_offset(sp, 46, 46, cell, words);
      CHECK(g.offsets[size_t(cell)].y == o.y);
      CHECK(g.offsets[size_t(cell)].x == o.x);
    }
    CHECK(s.next_u32() == words_stream.next_u32());  // and no more than those words
  }

  CHECK_THROWS_AS(PatchGrid({10, 5, 3}).params(45, 46), Error);  // one pixel short
  CHECK_THROWS_AS(PatchGrid().params(3, 3), Error);
  CHECK_THROWS_AS(PatchGrid({10, -1, 3}), Error);
  CHECK_THROWS_WITH_AS(PatchGrid({300000000, 0, 0}).params(32, 32),
                       doctest::Contains("at most 268435455, got image 32x32, patch 300000000"), Error);
}

// ---- contact sheet, PNG, statistics ----------------------------------------------------------------------

TEST_CASE("make_image_grid: dimensions, tiles at their places, label strips with digits") {
  std::vector<Image> imgs;
  for (int i = 0; i < 5; ++i) imgs.push_back(ramp_image(8, 6));
  rng::Stream unused(0, 0);
  imgs[4] = ToGrayscale(1).apply(imgs[4], unused);
  const std::vector<int64_t> labels = {0, 1, 2, 3, -1};
  ImageGridOptions o;
  o.scale = 2;
  o.padding = 2;
  const Image g = make_image_grid(imgs, labels, o);
  CHECK(label_strip_height(2) == 14);
  // 3 columns (ceil(sqrt 5)), 2 rows; cells 12 x (16 + 14).
  CHECK(g.c == 3);
  CHECK(g.w == 3 * 12 + 4 * 2);
  CHECK(g.h == 2 * 30 + 3 * 2);
  // Tile 1 (row 0, column 1) at (2, 16); each source pixel is a 2 x 2 block.
  for (int64_t y = 0; y < 16; ++y) {
    for (int64_t x = 0; x < 12; ++x) {
      for (int64_t ch = 0; ch < 3; ++ch) CHECK(g(2 + y, 16 + x, ch) == imgs[1](y / 2, x / 2, ch));
    }
  }
  // Tile 4 (row 1, column 1), grey: all channels the same.
  CHECK(g(34, 16, 0) == imgs[4](0, 0, 0));
  CHECK(g(34, 16, 2) == imgs[4](0, 0, 0));
  // Tile 3's strip (row 1, column 0) in class 3's colour, at its right edge where no digit is.
  const auto red = label_colour(3);
  for (int64_t ch = 0; ch < 3; ++ch) CHECK(g(34 + 16, 2 + 11, ch) == red[size_t(ch)]);
  // Tile 1's digit "1" (rows 010 110 010 010 111) starts 2 px into the strip: its top row lights only
  // the middle column. The strip is orange (255, 127, 14), light, so the ink is black.
  const int64_t sy = 2 + 16 + 2, sx = 16 + 2;
  CHECK(label_colour(1)[0] == 255);
  CHECK(g(sy, sx + 2, 0) == 0);
  CHECK(g(sy, sx, 0) == 255);
  CHECK(g(sy + 8, sx, 0) == 0);  // bottom row 111
  CHECK(g(sy + 8, sx + 4, 0) == 0);
  // Tile 0's strip is blue (31, 119, 180), dark, so its "0" is white; the 0's hollow middle stays blue.
  CHECK(g(sy, 2 + 2, 1) == 255);
  CHECK(g(sy + 2, 2 + 4, 1) == 119);

  o.columns = 2;
  const Image g2 = make_image_grid(imgs, {}, o);
  CHECK(g2.w == 2 * 12 + 3 * 2);
  CHECK(g2.h == 3 * 30 + 4 * 2);
  // Without strips the rows are only the tiles, and the pixels below a tile are background.
  o.label_strips = false;
  const Image g3 = make_image_grid(imgs, labels, o);
  CHECK(g3.w == g2.w);
  CHECK(g3.h == 3 * 16 + 4 * 2);
  CHECK(g3(2 + 16, 2 + 3, 0) == g3(0, 0, 0));
  for (int64_t x = 0; x < 12; ++x)  // tile 2 (row 1, column 0) right after the padding
    for (int64_t ch = 0; ch < 3; ++ch) CHECK(g3(2 + 16 + 2, 2 + x, ch) == imgs[2](0, x / 2, ch));
  CHECK_THROWS_AS(make_image_grid(imgs, {1, 2}, o), Error);
  CHECK_THROWS_AS(make_image_grid({}, {}, o), Error);
  // A grid larger than one PNG holds is refused before it is allocated (here 65,5xx px square).
  o.scale = 64;
  CHECK_THROWS_WITH_AS(make_image_grid({Image(1024, 1024, 1)}, {}, o),
                       doctest::Contains("more than one PNG holds"), Error);
}

TEST_CASE("write_png: round trip, clear error for a bad path or extension") {
  test::TempDir dir;
  const Image img = ramp_image(7, 5);
  write_png(dir / "a.png", img);
  int w = 0, h = 0, c = 0;
  uint8_t* data = stbi_load((dir / "a.png").c_str(), &w, &h, &c, 3);
  REQUIRE(data != nullptr);
  CHECK(w == 5);
  CHECK(h == 7);
  CHECK(std::equal(img.pixels.begin(), img.pixels.end(), data));
  stbi_image_free(data);
  const std::string err = test::error_of([&] { write_png(dir / "missing/dir/a.png", img); });
  CHECK(test::contains(err, "missing/dir/a.png"));
  // Another extension would put PNG bytes under a name that says otherwise.
  CHECK(test::contains(test::error_of([&] { write_png(dir / "a.jpg", img); }), "should end in .png"));
  CHECK_FALSE(std::filesystem::exists(dir / "a.jpg"));
}

namespace {
// Images 5 and 40 of 64 cannot be read, and image 5 says so only once image 40 has (or after 2 s, should
// one thread read them all), so that with two threads the later image fails first.
class TwoBadImages final : public Dataset {
 public:
  int64_t size() const override { return 64; }
  int64_t num_classes() const override { return 1; }
  std::vector<std::string> class_names() const override { return {"a"}; }
  Image image(int64_t i) const override {
    if (i == 5) {
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      while (!image_40_failed_ && std::chrono::steady_clock::now() < give_up)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (i == 40) image_40_failed_ = true;
    SSL_CHECK(i != 5 && i != 40, "image ", i, " is unreadable");
    return Image(1, 1, 1, 7);
  }
  int64_t label(int64_t) const override { return 0; }
  std::string name() const override { return "two bad"; }

 private:
  mutable std::atomic<bool> image_40_failed_{false};
};
}  // namespace

TEST_CASE("dataset_stats: of several unreadable images, the first is named, whichever thread meets it") {
  const kernels::ComputeThreads two(2);
  CHECK(test::error_of([] { dataset_stats(TwoBadImages()); }) == "image 5 is unreadable");
}

TEST_CASE("dataset_stats: counts per class, exact per-channel mean and std") {
  const test::FakeDataset fake({0, 0, 1, -1}, {"a", "b", "c"});  // pixels 0, 1, 2, 3
  const DatasetStats st = dataset_stats(fake);
  CHECK(st.count == 4);
  CHECK(st.channels == 1);
  CHECK(st.unlabelled == 1);
  CHECK(st.class_counts == std::vector<int64_t>{2, 1, 0});
  REQUIRE(st.mean.size() == 1);
  CHECK(st.mean[0] == doctest::Approx(1.5 / 255).epsilon(1e-12));
  CHECK(st.stddev[0] == doctest::Approx(std::sqrt(1.25) / 255).epsilon(1e-12));
  const DatasetStats two = dataset_stats(fake, 2);
  CHECK(two.count == 2);
  CHECK(two.class_counts == std::vector<int64_t>{2, 0, 0});
  CHECK(two.mean[0] == doctest::Approx(0.5 / 255).epsilon(1e-12));
  const DatasetStats spread = dataset_stats(fake, 2, /*spread=*/true);  // images 0 and 2
  CHECK(spread.count == 2);
  CHECK(spread.class_counts == std::vector<int64_t>{1, 1, 0});
  CHECK(spread.mean[0] == doctest::Approx(1.0 / 255).epsilon(1e-12));

  const SyntheticDataset syn(Split::train, 40, 1);
  const DatasetStats s = dataset_stats(syn);
  CHECK(s.channels == 3);
  int64_t total = 0;
  for (int64_t n : s.class_counts) total += n;
  CHECK(total == 40);
  for (int ch = 0; ch < 3; ++ch) {
    CHECK(s.mean[size_t(ch)] > 0.05);
    CHECK(s.mean[size_t(ch)] < 0.95);
    CHECK(s.stddev[size_t(ch)] > 0.01);
  }
}
