// The synthetic dataset: reproducible, balanced, and with classes that colour alone cannot separate.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <set>

#include "core/error.h"
#include "data/synthetic.h"

using namespace ssl;
using namespace ssl::data;

namespace {

std::array<double, 3> mean_rgb(const Image& img) {
  std::array<double, 3> m{0, 0, 0};
  for (int64_t i = 0; i < img.h * img.w; ++i) {
    for (int ch = 0; ch < 3; ++ch) m[size_t(ch)] += img.pixels[size_t(i * 3 + ch)];
  }
  for (auto& v : m) v /= double(img.h * img.w);
  return m;
}

// Sum of absolute differences between horizontal (dx) and vertical (dy) neighbours of the luma.
void edge_energy(const Image& img, double& dx, double& dy) {
  auto luma = [&](int64_t y, int64_t x) {
    return 0.299 * img(y, x, 0) + 0.587 * img(y, x, 1) + 0.114 * img(y, x, 2);
  };
  dx = dy = 0;
  for (int64_t y = 0; y + 1 < img.h; ++y) {
    for (int64_t x = 0; x + 1 < img.w; ++x) {
      dx += std::fabs(luma(y, x + 1) - luma(y, x));
      dy += std::fabs(luma(y + 1, x) - luma(y, x));
    }
  }
}

}  // namespace

TEST_CASE("synthetic: sizes, shapes and class names") {
  SyntheticDataset train(Split::train), test(Split::test), small(Split::train, 37, 5);
  CHECK(train.size() == 10000);
  CHECK(test.size() == 2000);
  CHECK(small.size() == 37);
  CHECK(train.num_classes() == 10);
  const auto names = train.class_names();
  CHECK(names.size() == 10);
  CHECK(std::set<std::string>(names.begin(), names.end()).size() == 10);
  const Image img = small.image(36);
  CHECK(img.h == 32);
  CHECK(img.w == 32);
  CHECK(img.c == 3);
  CHECK(img.pixels.size() == 32 * 32 * 3);
  CHECK_THROWS_AS(small.image(37), ssl::Error);
  CHECK_THROWS_AS(small.image(-1), ssl::Error);
  CHECK_THROWS_AS(small.label(37), ssl::Error);
  CHECK_THROWS_AS(SyntheticDataset(Split::unlabeled), ssl::Error);
}

TEST_CASE("synthetic: an image depends only on (seed, split, index)") {
  SyntheticDataset a(Split::train, 100, 7), b(Split::train, 100, 7);
  const Image late_first = b.image(42);  // b is asked in a different order from a
  for (int64_t i = 0; i < 100; ++i) CHECK(a.image(i) == b.image(i));
  CHECK(late_first == a.image(42));
  CHECK(a.image(3) == a.image(3));

  SyntheticDataset other_seed(Split::train, 100, 8), other_split(Split::test, 100, 7);
  int same_seed_diff = 0, same_split_diff = 0;
  for (int64_t i = 0; i < 100; ++i) {
    same_seed_diff += a.image(i) == other_seed.image(i) ? 0 : 1;
    same_split_diff += a.image(i) == other_split.image(i) ? 0 : 1;
  }
  CHECK(same_seed_diff == 100);
  CHECK(same_split_diff == 100);
  CHECK(a.image(0) != a.image(10));  // same class, different picture
}

TEST_CASE("synthetic: classes are balanced") {
  SyntheticDataset d(Split::train, 1000, 1);
  std::array<int, 10> count{};
  for (int64_t i = 0; i < d.size(); ++i) {
    const int64_t y = d.label(i);
    REQUIRE(y >= 0);
    REQUIRE(y < 10);
    ++count[size_t(y)];
  }
  for (int c : count) CHECK(c == 100);
}

TEST_CASE("synthetic: mean colour does not reveal the class") {
  // Per-image mean RGB, then (1) each class's average of it must sit close to the overall average, and
  // (2) a nearest-class-mean classifier on it must stay near chance (10%).
  constexpr int64_t kTrain = 3000, kTest = 2000;
  SyntheticDataset d(Split::train, kTrain + kTest, 3);
  std::vector<std::array<double, 3>> feats(size_t(kTrain + kTest));
  for (int64_t i = 0; i < kTrain + kTest; ++i) feats[size_t(i)] = mean_rgb(d.image(i));

  std::array<std::array<double, 3>, 10> centroid{};
  std::array<double, 3> overall{};
  for (int64_t i = 0; i < kTrain; ++i) {
    for (int ch = 0; ch < 3; ++ch) {
      centroid[size_t(d.label(i))][size_t(ch)] += feats[size_t(i)][size_t(ch)] / (kTrain / 10);
      overall[size_t(ch)] += feats[size_t(i)][size_t(ch)] / kTrain;
    }
  }
  double worst = 0;
  for (const auto& c : centroid) {
    for (int ch = 0; ch < 3; ++ch) worst = std::max(worst, std::fabs(c[size_t(ch)] - overall[size_t(ch)]));
  }
  // The per-image mean varies with a standard deviation of about 45 levels, so a class average over 300
  // images wanders by about 2.6; a class-dependent colour would move it by tens of levels.
  CHECK(worst < 10.0);

  int correct = 0;
  for (int64_t i = kTrain; i < kTrain + kTest; ++i) {
    int best = 0;
    double best_d = 1e30;
    for (int k = 0; k < 10; ++k) {
      double dist = 0;
      for (int ch = 0; ch < 3; ++ch) {
        const double e = feats[size_t(i)][size_t(ch)] - centroid[size_t(k)][size_t(ch)];
        dist += e * e;
      }
      if (dist < best_d) best_d = dist, best = k;
    }
    correct += best == d.label(i) ? 1 : 0;
  }
  CHECK(double(correct) / kTest < 0.2);
}

TEST_CASE("synthetic: the structure is in the picture") {
  // Stripes are horizontal: brightness changes far more going down than going across. A disc has no
  // preferred direction. Every image shows its shape with clear contrast.
  SyntheticDataset d(Split::train, 400, 11);
  const auto names = d.class_names();
  const int64_t stripes = std::find(names.begin(), names.end(), "stripes") - names.begin();
  const int64_t disc = std::find(names.begin(), names.end(), "disc") - names.begin();
  REQUIRE(stripes < 10);
  REQUIRE(disc < 10);
  double sx = 0, sy = 0, dxs = 0, dys = 0;
  double min_std = 1e9;
  for (int64_t i = 0; i < d.size(); ++i) {
    const Image img = d.image(i);
    double ex, ey;
    edge_energy(img, ex, ey);
    if (d.label(i) == stripes) sx += ex, sy += ey;
    if (d.label(i) == disc) dxs += ex, dys += ey;
    double m = 0, m2 = 0;
    for (int64_t p = 0; p < 32 * 32; ++p) {
      const double l = 0.299 * img.pixels[size_t(p * 3)] + 0.587 * img.pixels[size_t(p * 3 + 1)] +
                       0.114 * img.pixels[size_t(p * 3 + 2)];
      m += l / 1024;
      m2 += l * l / 1024;
    }
    min_std = std::min(min_std, std::sqrt(std::max(0.0, m2 - m * m)));
  }
  CHECK(sy > 1.8 * sx);  // about 2.4; noise and the ends of the stripes add horizontal changes too
  CHECK(dys / dxs > 0.8);
  CHECK(dys / dxs < 1.25);
  CHECK(min_std > 8.0);
}

TEST_CASE("synthetic: the transfer domain is its own set of the same classes, drawn larger, one swapped") {
  using Domain = SyntheticDataset::Domain;
  SyntheticDataset transfer(Split::test, 40, 0, Domain::transfer), test(Split::test, 40, 0);
  CHECK(transfer.size() == 40);
  CHECK(SyntheticDataset(Split::test, -1, 0, Domain::transfer).size() == 2000);
  CHECK(transfer.image_size() == 64);
  const Image img = transfer.image(3);
  CHECK(img.h == 64);
  CHECK(img.w == 64);
  std::vector<std::string> expected = test.class_names();
  CHECK(expected[9] == "checker");
  expected[9] = "diamond";
  CHECK(transfer.class_names() == expected);
  CHECK(transfer.label(19) == 9);
  CHECK(transfer.name() == "synthetic:transfer (40 images, seed 0)");
  CHECK(transfer.image(7) == SyntheticDataset(Split::test, 40, 0, Domain::transfer).image(7));
  // Not the test images drawn larger: its own stream.
  int same_colours = 0;
  for (int64_t i = 0; i < 40; ++i) {
    const std::array<double, 3> a = mean_rgb(transfer.image(i)), b = mean_rgb(test.image(i));
    same_colours += std::fabs(a[0] - b[0]) + std::fabs(a[1] - b[1]) + std::fabs(a[2] - b[2]) < 3 ? 1 : 0;
  }
  CHECK(same_colours < 4);
  CHECK_THROWS_WITH_AS(SyntheticDataset(Split::train, 10, 0, Domain::transfer),
                       doctest::Contains("a test set only"), ssl::Error);
}

TEST_CASE("synthetic: the source images stay the same from one version to the next") {
  // The README's figures were measured on these pictures: a change to how the source domain is drawn must be
  // deliberate (and the figures measured again), so a digest of a few of them is pinned here.
  uint64_t digest = 1469598103934665603ULL;  // FNV-1a, 64-bit
  for (const Split split : {Split::train, Split::test}) {
    const SyntheticDataset d(split, 20, 0);
    for (int64_t i = 0; i < d.size(); ++i)
      for (const uint8_t byte : d.image(i).pixels) digest = (digest ^ byte) * 1099511628211ULL;
  }
  CHECK(digest == 5424102888324653841ULL);
}
