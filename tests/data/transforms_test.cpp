// Transforms: geometry is exact where it should be, randomness comes only from the stream.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <initializer_list>

#include "core/error.h"
#include "data/resample.h"
#include "data/synthetic.h"
#include "data/transforms.h"
#include "data/transforms_extra.h"

using namespace ssl;
using namespace ssl::data;

namespace {

// A picture with a different value at every (y, x, ch), so that any misplaced pixel shows.
Image ramp(int64_t h, int64_t w, int64_t c = 3) {
  Image img(h, w, c);
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      for (int64_t ch = 0; ch < c; ++ch) img(y, x, ch) = uint8_t((y * 37 + x * 11 + ch * 71) % 256);
    }
  }
  return img;
}

Image sample_image(int64_t i = 3) { return SyntheticDataset(Split::train, 20, 9).image(i); }

}  // namespace

TEST_CASE("resample: identity, bilinear values, averaging when shrinking") {
  const Image img = ramp(13, 17);
  CHECK(resample(img, 0, 0, 17, 13, 13, 17) == img);

  Image two(1, 2, 1);
  two(0, 0, 0) = 0;
  two(0, 1, 0) = 255;
  const Image four = resample(two, 0, 0, 2, 1, 1, 4);
  // Output centres sit at source x = -0.25 (clamped), 0.25, 0.75, 1.25 (clamped) in pixel-centre terms.
  CHECK(four(0, 0, 0) == 0);
  CHECK(four(0, 1, 0) == 64);
  CHECK(four(0, 2, 0) == 191);
  CHECK(four(0, 3, 0) == 255);

  // A one-pixel checkerboard halved: plain bilinear would alias to 0/255, a widened filter averages it.
  Image checker(16, 16, 1);
  for (int64_t y = 0; y < 16; ++y) {
    for (int64_t x = 0; x < 16; ++x) checker(y, x, 0) = (x + y) % 2 ? 255 : 0;
  }
  const Image half = resample(checker, 0, 0, 16, 16, 8, 8);
  for (uint8_t v : half.pixels) {
    CHECK(v >= 120);
    CHECK(v <= 135);
  }

  // A crop at 1:1 scale copies the box.
  const Image crop = resample(img, 3, 2, 5, 4, 4, 5);
  for (int64_t y = 0; y < 4; ++y) {
    for (int64_t x = 0; x < 5; ++x) CHECK(crop(y, x, 1) == img(y + 2, x + 3, 1));
  }
  CHECK_THROWS_AS(resample(img, 10, 0, 10, 13, 4, 4), ssl::Error);  // box sticks out
}

TEST_CASE("RandomHorizontalFlip: exact mirror, applied with probability p") {
  const Image img = ramp(5, 7);
  rng::Stream s(1, 2);
  const Image f = RandomHorizontalFlip(1.0).apply(img, s);
  for (int64_t y = 0; y < 5; ++y) {
    for (int64_t x = 0; x < 7; ++x) {
      for (int64_t ch = 0; ch < 3; ++ch) CHECK(f(y, x, ch) == img(y, 6 - x, ch));
    }
  }
  CHECK(flip_horizontal(f) == img);
  CHECK(RandomHorizontalFlip(0.0).apply(img, s) == img);
  int flipped = 0;
  const RandomHorizontalFlip half(0.5);
  for (uint64_t i = 0; i < 1000; ++i) {
    rng::Stream r(5, i);
    flipped += half.apply(img, r) == img ? 0 : 1;
  }
  CHECK(flipped > 430);
  CHECK(flipped < 570);
}

TEST_CASE("RandomResizedCrop: output size, boxes inside the image, fallback") {
  const Image img = ramp(40, 30);
  const RandomResizedCrop rrc(24);
  for (uint64_t i = 0; i < 300; ++i) {
    rng::Stream s(3, i);
    const auto box = rrc.draw_box(40, 30, s);
    CHECK(box.x0 >= 0);
    CHECK(box.y0 >= 0);
    CHECK(box.x0 + box.w <= 30);
    CHECK(box.y0 + box.h <= 40);
    const double frac = double(box.w * box.h) / (40.0 * 30.0);
    CHECK(frac >= 0.06);  // 0.08 less the rounding of w and h
    CHECK(frac <= 1.0);
    const double aspect = double(box.w) / double(box.h);
    CHECK(aspect >= 0.75 * 0.75);  // 3/4 less rounding on a small box
    CHECK(aspect <= 4.0 / 3.0 / 0.75);
    rng::Stream s2(3, i);
    const Image out = rrc.apply(img, s2);
    CHECK(out.h == 24);
    CHECK(out.w == 24);
    CHECK(out.c == 3);
  }
  // Ratios 2..3 cannot fit a square image at full area: after 10 tries it takes the widest allowed box.
  const RandomResizedCrop wide(8, {1.0, 1.0}, {2.0, 3.0});
  rng::Stream s(0, 0);
  const auto box = wide.draw_box(32, 32, s);
  CHECK(box.x0 == 0);
  CHECK(box.w == 32);
  CHECK(box.h == 16);
  CHECK(box.y0 == 8);
  // Full area at ratio 1 on a square image is the identity.
  rng::Stream s3(0, 1);
  const Image square = ramp(20, 20);
  CHECK(RandomResizedCrop(20, {1.0, 1.0}, {1.0, 1.0}).apply(square, s3) == square);
  CHECK_THROWS_AS(RandomResizedCrop(0), ssl::Error);
  CHECK_THROWS_AS(RandomResizedCrop(8, {0.5, 0.2}), ssl::Error);
}

TEST_CASE("RandomGrayscale: equal channels holding the luma") {
  const Image img = sample_image();
  rng::Stream s(1, 1);
  const Image g = RandomGrayscale(1.0).apply(img, s);
  REQUIRE(g.same_shape(img));
  for (int64_t i = 0; i < img.h * img.w; ++i) {
    const uint8_t* p = &img.pixels[size_t(i * 3)];
    const uint8_t* q = &g.pixels[size_t(i * 3)];
    CHECK(q[0] == q[1]);
    CHECK(q[1] == q[2]);
    CHECK(std::abs(int(q[0]) - int(std::lround(0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]))) <= 1);
  }
  CHECK(RandomGrayscale(0.0).apply(img, s) == img);
}

TEST_CASE("ColorJitter: zero strengths and p = 0 are the identity") {
  const Image img = sample_image();
  for (uint64_t i = 0; i < 20; ++i) {
    rng::Stream s(2, i);
    CHECK(ColorJitter(0, 0, 0, 0, 1.0).apply(img, s) == img);
    CHECK(ColorJitter(0.4, 0.4, 0.4, 0.1, 0.0).apply(img, s) == img);
  }
}

TEST_CASE("ColorJitter: brightness alone scales every value by one factor") {
  Image img(4, 4, 3);
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = uint8_t(40 + 10 * (i % 13));  // 40..160
  const ColorJitter jitter(0.5, 0, 0, 0, 1.0);
  int changed = 0;
  for (uint64_t k = 0; k < 20; ++k) {
    rng::Stream s(4, k);
    const Image out = jitter.apply(img, s);
    const double f = double(out.pixels[12]) / double(img.pixels[12]);  // the pixel holding 160
    CHECK(f >= 0.5 - 0.01);
    CHECK(f <= 1.5 + 0.01);
    for (size_t i = 0; i < img.pixels.size(); ++i) CHECK(std::fabs(out.pixels[i] - f * img.pixels[i]) <= 1.6);
    changed += out == img ? 0 : 1;
  }
  CHECK(changed >= 15);
}

TEST_CASE("ColorJitter: saturation and hue leave a grey image grey") {
  Image grey(6, 6, 3);
  for (int64_t i = 0; i < 36; ++i) {
    for (int ch = 0; ch < 3; ++ch) grey.pixels[size_t(i * 3 + ch)] = uint8_t(7 * i);
  }
  const ColorJitter jitter(0, 0, 0.9, 0.5, 1.0);
  for (uint64_t k = 0; k < 10; ++k) {
    rng::Stream s(6, k);
    CHECK(jitter.apply(grey, s) == grey);
  }
  // ...while hue alone does change a coloured image.
  const Image img = sample_image();
  rng::Stream s(6, 99);
  CHECK(ColorJitter(0, 0, 0, 0.5, 1.0).apply(img, s) != img);
}

TEST_CASE("Compose, simclr_augment: deterministic in the stream") {
  const Image img = ramp(9, 9);
  Compose twice;
  twice.add(std::make_unique<RandomHorizontalFlip>(1.0)).add(std::make_unique<RandomHorizontalFlip>(1.0));
  rng::Stream s(0, 0);
  CHECK(twice.apply(img, s) == img);
  CHECK(twice.size() == 2);

  const auto aug = simclr_augment(32);
  const Image src = sample_image(5);
  int differ = 0;
  for (uint64_t i = 0; i < 20; ++i) {
    rng::Stream a(10, i), b(10, i), c(10, i + 1000);
    const Image x = aug->apply(src, a);
    CHECK(x.h == 32);
    CHECK(x.w == 32);
    CHECK(x.c == 3);
    CHECK(aug->apply(src, b) == x);
    differ += aug->apply(src, c) == x ? 0 : 1;
  }
  CHECK(differ == 20);
  const std::string d = aug->describe();
  for (const char* part : {"RandomResizedCrop(32", "RandomHorizontalFlip(p=0.5)",
                           "ColorJitter(brightness=0.4", "hue=0.1, p=0.8", "RandomGrayscale(p=0.2)"}) {
    CAPTURE(part);
    CHECK(d.find(part) != std::string::npos);
  }
}

TEST_CASE("simclr_augment: a Gaussian blur with p = 0.5 after grayscale from 96 px up, nothing added below") {
  // The four steps of simclr_augment at every size, with its default parameters.
  auto four_steps = [](int64_t size) {
    Compose c;
    c.add(std::make_unique<RandomResizedCrop>(size, std::pair{0.08, 1.0}, std::pair{3.0 / 4.0, 4.0 / 3.0}))
        .add(std::make_unique<RandomHorizontalFlip>(0.5))
        .add(std::make_unique<ColorJitter>(0.4, 0.4, 0.4, 0.1, 0.8))
        .add(std::make_unique<RandomGrayscale>(0.2));
    return c;
  };
  const Image src = sample_image(5);

  // Below 96 px: the same steps, the same images and the same number of draws as without blur.
  for (int64_t size : {32, 95}) {
    CAPTURE(size);
    const auto aug = simclr_augment(size);
    const Compose ref = four_steps(size);
    CHECK(aug->describe() == ref.describe());
    for (uint64_t i = 0; i < 10; ++i) {
      rng::Stream a(7, i), b(7, i);
      CHECK(aug->apply(src, a) == ref.apply(src, b));
      CHECK(a.next_u32() == b.next_u32());
    }
  }

  // At 96 px: the same steps, then simclr_blur(96), drawing bernoulli(0.5) and then sigma in [0.1, 2.0].
  const auto aug = simclr_augment(96);
  const Compose ref = four_steps(96);
  const std::string steps = ref.describe();
  CHECK(aug->describe() == steps.substr(0, steps.size() - 1) + ", " + simclr_blur(96)->describe() + ")");
  int blurred = 0, changed = 0;
  for (uint64_t i = 0; i < 40; ++i) {
    rng::Stream a(7, i), b(7, i);
    const Image out = aug->apply(src, a);
    const Image sharp = ref.apply(src, b);
    Image want = sharp;
    if (b.bernoulli(0.5f)) {
      want = gaussian_blur(sharp, 0.1 + (2.0 - 0.1) * double(b.uniform()), 9);
      ++blurred;
    }
    CHECK(out == want);
    changed += out == sharp ? 0 : 1;
  }
  CHECK(blurred >= 10);
  CHECK(blurred <= 30);
  CHECK(changed >= 10);
}

TEST_CASE("simclr_augment: colour strength s sets the jitter to (0.8 s, 0.8 s, 0.8 s, 0.2 s)") {
  const std::string strong = simclr_augment(32, 0.08, 1.0)->describe();
  for (const char* part :
       {"ColorJitter(brightness=0.8", "contrast=0.8", "saturation=0.8", "hue=0.2, p=0.8"}) {
    CAPTURE(part);
    CHECK(strong.find(part) != std::string::npos);
  }
  // Strength 0 draws factors of 1: no colour change.
  CHECK(simclr_augment(32, 0.08, 0.0)->describe().find("brightness=0,") != std::string::npos);
  CHECK_THROWS_WITH_AS(simclr_augment(32, 0.08, 3.0),
                       doctest::Contains("colour strength must be in [0, 2.5]"), ssl::Error);
}
