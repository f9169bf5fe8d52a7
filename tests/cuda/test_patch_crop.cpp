// The CUDA patch grid offsets and batched patch crop against the CPU twins: the same words (drawn from seeded
// Philox streams, as the transform draws them) give exactly the same offsets, and the same offsets the same
// patches.
#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "kernels/common/philox.h"
#include "kernels/cuda/patch_crop.h"
#include "kernels/patch_crop.h"
#include "support/device_buffer.h"
#include "support/kernel_check.h"

using namespace ssl;
namespace dev = ssl::kernels::SSL_CUDA_NS;

namespace {

// Sample i's grid words from stream (seed, i), as the CPU transform draws them.
std::vector<uint32_t> grid_words(int64_t n, uint64_t seed) {
  std::vector<uint32_t> words(size_t(n * patch::kDrawsPerGrid));
  for (int64_t i = 0; i < n; ++i) {
    rng::Stream stream(seed, uint64_t(i));
    for (int d = 0; d < patch::kDrawsPerGrid; ++d)
      words[size_t(i * patch::kDrawsPerGrid + d)] = stream.next_u32();
  }
  return words;
}

}  // namespace

TEST_CASE("patch_crop CUDA: patch_grid_offsets gives exactly the CPU's offsets for the same seeds") {
  const int64_t n = 37;
  struct Case {
    int64_t h, w;
    patch::GridParams params;
  };
  for (const Case& cs : {Case{37, 41, patch::GridParams{4, 9, 1}}, Case{32, 32, patch::scaled_params(32)},
                         Case{96, 100, patch::scaled_params(96)}, Case{40, 34, patch::GridParams{8, 2, 3}}}) {
    for (uint64_t seed : {uint64_t(1), uint64_t(12345)}) {
      CAPTURE(cs.h);
      CAPTURE(seed);
      const std::vector<uint32_t> words = grid_words(n, seed);
      std::vector<int64_t> want(size_t(n * patch::kCells * 2), -1);
      kernels::cpu::patch_grid_offsets(n, cs.h, cs.w, cs.params, words.data(), want.data());
      const test::DeviceBuffer<uint32_t> dwords(words);
      auto got = test::DeviceBuffer<int64_t>::poisoned(n * patch::kCells * 2);
      dev::patch_grid_offsets(n, cs.h, cs.w, cs.params, dwords.get(), got.get());
      CHECK(got.download() == want);
    }
  }
  CHECK_THROWS_AS(dev::patch_grid_offsets(1, 20, 20, patch::GridParams{8, 2, 1}, nullptr, nullptr), Error);
}

TEST_CASE("patch_crop CUDA: the batched crop matches the CPU on the grid's offsets") {
  std::mt19937_64 rng(7);
  for (int64_t c : {1, 3}) {
    const int64_t n = 5, h = 37, w = 41;
    const patch::GridParams params{7, 4, 2};
    const std::vector<uint32_t> words = grid_words(n, 99 + c);
    std::vector<int64_t> offsets(size_t(n * patch::kCells * 2));
    kernels::cpu::patch_grid_offsets(n, h, w, params, words.data(), offsets.data());
    const std::vector<double> images = test::random_vector(n * c * h * w, rng);
    const int64_t k = patch::kCells, p = params.patch, total = n * k * c * p * p;
    std::vector<double> want(static_cast<size_t>(total));
    kernels::cpu::patch_crop<double>(n, c, h, w, k, p, offsets.data(), images.data(), want.data());

    const test::DeviceBuffer<int64_t> doffsets(offsets);
    const test::DeviceBuffer<float> dimages_f(test::cast<float>(images));
    auto got_f = test::DeviceBuffer<float>::poisoned(total);
    dev::patch_crop<float>(n, c, h, w, k, p, doffsets.get(), dimages_f.get(), got_f.get());
    CHECK(got_f.download() == test::cast<float>(want));

    const test::DeviceBuffer<double> dimages(images);
    auto got = test::DeviceBuffer<double>::poisoned(total);
    dev::patch_crop<double>(n, c, h, w, k, p, doffsets.get(), dimages.get(), got.get());
    CHECK(got.download() == want);
  }
}

TEST_CASE("patch_crop CUDA: two patches of hand-picked offsets, and a patch outside the image reads zeros") {
  // One 1-channel 4x5 image, values 0..19; patches of side 2 at (0, 0) and (2, 3), then one hanging off.
  std::vector<float> image(20);
  for (int i = 0; i < 20; ++i) image[size_t(i)] = float(i);
  const test::DeviceBuffer<float> dimage(image);
  const test::DeviceBuffer<int64_t> offsets(std::vector<int64_t>{0, 0, 2, 3, 3, 4});
  auto out = test::DeviceBuffer<float>::poisoned(12);
  dev::patch_crop<float>(1, 1, 4, 5, 3, 2, offsets.get(), dimage.get(), out.get());
  CHECK(out.download() == std::vector<float>{0, 1, 5, 6, 13, 14, 18, 19, 19, 0, 0, 0});
  CHECK_THROWS_AS(dev::patch_crop<float>(1, 1, 4, 5, 3, 0, offsets.get(), dimage.get(), out.get()), Error);
}
