// Batched patch crop: against a direct-loop reference on random images with a poisoned output, patches at
// exactly the given offsets, rejection of patches outside the image, and the grid offsets drawn from a
// Philox stream equal patch::patch_offset on the same words and keep every patch inside the image.
#include <doctest/doctest.h>

#include <cstdlib>
#include <random>
#include <vector>

#include "core/error.h"
#include "kernels/common/philox.h"
#include "kernels/patch_crop.h"
#include "support/kernel_check.h"

namespace {

using namespace ssl::test;
namespace cpu = ssl::kernels::cpu;
namespace patch = ssl::patch;

struct CropCase {
  int64_t n, c, h, w, k, p;
};

// patches[i][j][ch][y][x] = images[i][ch][oy + y][ox + x], written out index by index.
std::vector<double> reference_crop(const CropCase& s, const std::vector<int64_t>& offsets,
                                   const std::vector<double>& images) {
  std::vector<double> out(size_t(s.n * s.k * s.c * s.p * s.p));
  for (int64_t i = 0; i < s.n; ++i)
    for (int64_t j = 0; j < s.k; ++j) {
      const int64_t oy = offsets[size_t((i * s.k + j) * 2)], ox = offsets[size_t((i * s.k + j) * 2 + 1)];
      for (int64_t ch = 0; ch < s.c; ++ch)
        for (int64_t y = 0; y < s.p; ++y)
          for (int64_t x = 0; x < s.p; ++x)
            out[size_t((((i * s.k + j) * s.c + ch) * s.p + y) * s.p + x)] =
                images[size_t(((i * s.c + ch) * s.h + oy + y) * s.w + ox + x)];
    }
  return out;
}

// Random top-left corners that keep a p x p patch inside the image, corners included.
std::vector<int64_t> random_offsets(const CropCase& s, std::mt19937_64& rng) {
  std::uniform_int_distribution<int64_t> ys(0, s.h - s.p), xs(0, s.w - s.p);
  std::vector<int64_t> o(size_t(s.n * s.k * 2));
  for (size_t e = 0; e < o.size(); e += 2) {
    o[e] = ys(rng);
    o[e + 1] = xs(rng);
  }
  if (o.size() >= 4) {  // the extreme corners, where an off-by-one would read outside
    o[0] = s.h - s.p;
    o[1] = s.w - s.p;
    o[2] = 0;
    o[3] = 0;
  }
  return o;
}

template <class T>
void check_case(const CropCase& s, std::mt19937_64& rng) {
  const std::vector<double> images = random_vector(s.n * s.c * s.h * s.w, rng);
  const std::vector<int64_t> offsets = random_offsets(s, rng);
  std::vector<T> out = poisoned<T>(s.n * s.k * s.c * s.p * s.p);
  const std::vector<T> in = cast<T>(images);
  cpu::patch_crop<T>(s.n, s.c, s.h, s.w, s.k, s.p, offsets.data(), in.data(), out.data());
  // A copy: equal to the reference up to the input's own rounding.
  check_close(out, reference_crop(s, offsets, cast<double>(in)), 0, 0, "patch_crop");
}

}  // namespace

TEST_CASE("patch_crop copies exactly the patches at the given offsets (float and double, poisoned output)") {
  std::mt19937_64 rng(11);
  const std::vector<CropCase> cases = {
      {1, 1, 5, 5, 1, 5},    // the whole image
      {2, 3, 13, 11, 9, 3},  // nine cells per sample, non-square image
      {3, 2, 8, 9, 2, 4},    // anchor and query only
      {4, 3, 32, 32, 9, 4},  // the 32 px grid's patch side
      {2, 1, 7, 6, 3, 1},    // single pixels
  };
  for (const CropCase& s : cases) {
    CAPTURE(s.n);
    CAPTURE(s.c);
    CAPTURE(s.h);
    CAPTURE(s.w);
    CAPTURE(s.k);
    CAPTURE(s.p);
    check_case<float>(s, rng);
    check_case<double>(s, rng);
  }
}

TEST_CASE("patch_crop rejects patches outside the image and bad sizes") {
  const std::vector<float> images(2 * 6 * 6, 1.f);
  std::vector<float> out(2 * 3 * 3);
  const auto crop = [&](std::vector<int64_t> offsets, int64_t p) {
    cpu::patch_crop<float>(2, 1, 6, 6, 1, p, offsets.data(), images.data(), out.data());
  };
  CHECK_NOTHROW(crop({3, 3, 0, 0}, 3));
  CHECK_THROWS_AS(crop({4, 0, 0, 0}, 3), ssl::Error);   // runs past the bottom
  CHECK_THROWS_AS(crop({0, 0, 0, 4}, 3), ssl::Error);   // second sample runs past the right edge
  CHECK_THROWS_AS(crop({-1, 0, 0, 0}, 3), ssl::Error);  // above the top
  CHECK_THROWS_AS(crop({0, 0, 0, 0}, 0), ssl::Error);
  CHECK_THROWS_AS(crop({0, 0, 0, 0}, 7), ssl::Error);
}

TEST_CASE("patch_grid_offsets: patch::patch_offset on each sample's stream words, every patch inside") {
  const int64_t n = 64, h = 37, w = 41;
  for (const patch::GridParams params : {patch::GridParams{4, 9, 1}, patch::GridParams{7, 4, 1},
                                         patch::GridParams{8, 2, 3}, patch::scaled_params(37)}) {
    CAPTURE(params.patch);
    CAPTURE(params.gap);
    CAPTURE(params.jitter);
    std::vector<uint32_t> words(size_t(n * patch::kDrawsPerGrid));
    for (int64_t i = 0; i < n; ++i) {
      ssl::rng::Stream rng(3, uint64_t(i));
      for (int d = 0; d < patch::kDrawsPerGrid; ++d)
        words[size_t(i * patch::kDrawsPerGrid + d)] = rng.next_u32();
    }
    std::vector<int64_t> offsets(size_t(n * patch::kCells * 2), -999);
    cpu::patch_grid_offsets(n, h, w, params, words.data(), offsets.data());
    bool inside = true, same = true, spaced = true;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t* o = offsets.data() + i * patch::kCells * 2;
      for (int cell = 0; cell < patch::kCells; ++cell) {
        const patch::Offset e =
            patch::patch_offset(params, int(h), int(w), cell, words.data() + i * patch::kDrawsPerGrid);
        same = same && o[2 * cell] == e.y && o[2 * cell + 1] == e.x;
        inside = inside && o[2 * cell] >= 0 && o[2 * cell + 1] >= 0 && o[2 * cell] + params.patch <= h &&
                 o[2 * cell + 1] + params.patch <= w;
        // Neighbours along a row or column sit patch + gap apart, up to both jitters.
        if (cell % 3 != 0) {
          const int64_t dx = o[2 * cell + 1] - o[2 * (cell - 1) + 1];
          spaced = spaced && std::abs(dx - (params.patch + params.gap)) <= 2 * params.jitter;
        }
        if (cell >= 3) {
          const int64_t dy = o[2 * cell] - o[2 * (cell - 3)];
          spaced = spaced && std::abs(dy - (params.patch + params.gap)) <= 2 * params.jitter;
        }
      }
    }
    CHECK(same);
    CHECK(inside);
    CHECK(spaced);
  }
  std::vector<uint32_t> words(patch::kDrawsPerGrid, 0u);
  std::vector<int64_t> offsets(patch::kCells * 2);
  CHECK_THROWS_AS(
      cpu::patch_grid_offsets(1, 20, 20, patch::GridParams{8, 2, 1}, words.data(), offsets.data()),
      ssl::Error);  // needs 30 px
}
