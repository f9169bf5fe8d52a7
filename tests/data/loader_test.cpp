// The loader: batch layout, sample order, reproducibility whatever the worker count, errors, shutdown.
#include <doctest/doctest.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <numeric>
#include <set>
#include <string>

#include "core/error.h"
#include "data/loader.h"
#include "data/synthetic.h"
#include "data/transforms.h"
#include "kernels/device_memory.h"

using namespace ssl;
using namespace ssl::data;

namespace {

// Image i is h x w x 3 with every pixel (i % 200, i % 200 + 1, i % 200 + 2): a batch row names its sample.
// Image `bad` (if >= 0) throws; image `odd` (if >= 0) has another size.
class TinyDataset final : public Dataset {
 public:
  explicit TinyDataset(int64_t n, int64_t bad = -1, int64_t odd = -1) : n_(n), bad_(bad), odd_(odd) {}
  int64_t size() const override { return n_; }
  int64_t num_classes() const override { return 3; }
  std::vector<std::string> class_names() const override { return {"a", "b", "c"}; }
  Image image(int64_t i) const override {
    check_index(i, "image");
    if (i == bad_) throw Error(str_cat("tiny: image ", i, " is broken"));
    const int64_t side = i == odd_ ? 5 : 4;
    Image img(side, side, 3);
    for (int64_t p = 0; p < side * side; ++p) {
      for (int ch = 0; ch < 3; ++ch) img.pixels[size_t(p * 3 + ch)] = uint8_t(i % 200 + ch);
    }
    return img;
  }
  int64_t label(int64_t i) const override { return i % 3; }
  std::string name() const override { return "tiny"; }

 private:
  int64_t n_, bad_, odd_;
};

// TinyDataset whose image() blocks until open() is called, counting the calls that are waiting: lets a
// test hold the workers in the middle of a batch without relying on timing.
class GatedDataset final : public Dataset {
 public:
  explicit GatedDataset(int64_t n) : inner_(n) {}
  int64_t size() const override { return inner_.size(); }
  int64_t num_classes() const override { return inner_.num_classes(); }
  std::vector<std::string> class_names() const override { return inner_.class_names(); }
  Image image(int64_t i) const override {
    std::unique_lock<std::mutex> lock(mu_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    return inner_.image(i);
  }
  int64_t label(int64_t i) const override { return inner_.label(i); }
  std::string name() const override { return "gated"; }
  void wait_for_callers(int n) const {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return waiting_ >= n; });
  }
  void open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  TinyDataset inner_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  mutable int waiting_ = 0;
  bool open_ = false;
};

std::vector<Batch> drain(Loader& loader) {
  std::vector<Batch> out;
  Batch b;
  while (loader.next(b)) out.push_back(b);
  return out;
}

std::vector<Batch> whole_epoch(Loader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  return drain(loader);
}

bool same_floats(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.data<float>(), b.data<float>(), size_t(a.numel()) * sizeof(float)) == 0;
}

bool same_rows(const Tensor& images, int64_t r0, int64_t r1) {
  const int64_t row = images.numel() / images.shape()[0];
  const float* p = images.data<float>();
  return std::memcmp(p + r0 * row, p + r1 * row, size_t(row) * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("loader: batch shapes, labels, pixel scaling, drop_last") {
  TinyDataset data(10);
  LoaderOptions opt;
  opt.batch_size = 4;
  opt.shuffle = false;
  opt.mean = {0.5f};
  opt.stddev = {0.25f, 0.5f, 1.0f};
  Loader loader(data, opt);
  CHECK(loader.batches_per_epoch() == 3);
  const auto batches = whole_epoch(loader, 0);
  REQUIRE(batches.size() == 3);
  CHECK(batches[0].images.shape() == Shape{4, 3, 4, 4});
  CHECK(batches[2].images.shape() == Shape{2, 3, 4, 4});
  CHECK(batches[0].images.dtype() == DType::f32);
  CHECK(batches[0].labels.shape() == Shape{4});
  CHECK(batches[0].labels.dtype() == DType::i64);
  CHECK(batches[2].indices == std::vector<int64_t>{8, 9});
  CHECK(batches[2].labels.data<int64_t>()[1] == 0);  // 9 % 3
  CHECK(batches[1].labels.data<int64_t>()[0] == 1);  // 4 % 3
  // Sample 5 sits in row 1 of batch 1; channel ch holds (5 + ch) / 255, normalised per channel.
  const float* px = batches[1].images.data<float>() + 1 * 3 * 16;
  CHECK(px[0] == doctest::Approx((5 / 255.0 - 0.5) / 0.25));
  CHECK(px[16 + 7] == doctest::Approx((6 / 255.0 - 0.5) / 0.5));
  CHECK(px[32 + 15] == doctest::Approx((7 / 255.0 - 0.5) / 1.0));

  opt.drop_last = true;
  Loader dropping(data, opt);
  CHECK(dropping.batches_per_epoch() == 2);
  const auto kept = whole_epoch(dropping, 0);
  REQUIRE(kept.size() == 2);
  CHECK(kept[1].indices == std::vector<int64_t>{4, 5, 6, 7});

  TinyDataset empty(0);
  Loader none(empty, LoaderOptions{});
  CHECK(none.batches_per_epoch() == 0);
  CHECK(whole_epoch(none, 0).empty());
}

TEST_CASE("loader: shuffling gives a permutation per epoch, reproducible from (seed, epoch)") {
  TinyDataset data(103);
  LoaderOptions opt;
  opt.batch_size = 10;
  opt.seed = 42;
  Loader loader(data, opt);
  auto epoch_order = [&](int64_t epoch) {
    std::vector<int64_t> seen;
    for (const Batch& b : whole_epoch(loader, epoch))
      seen.insert(seen.end(), b.indices.begin(), b.indices.end());
    return seen;
  };
  const auto e0 = epoch_order(0), e1 = epoch_order(1);
  CHECK(e0 == loader.sample_order(0));
  std::vector<int64_t> sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> iota(103);
  std::iota(iota.begin(), iota.end(), 0);
  CHECK(sorted == iota);
  CHECK(e0 != iota);  // it did shuffle
  CHECK(e0 != e1);    // and differently per epoch
  CHECK(epoch_order(0) == e0);

  opt.seed = 43;
  CHECK(Loader(data, opt).sample_order(0) != e0);
  opt.shuffle = false;
  CHECK(Loader(data, opt).sample_order(5) == iota);
}

TEST_CASE("loader: two views are stacked view-major") {
  TinyDataset data(6);
  LoaderOptions opt;
  opt.batch_size = 4;
  opt.views = 2;
  Loader plain(data, opt);
  const auto batches = whole_epoch(plain, 0);
  REQUIRE(batches.size() == 2);
  CHECK(batches[0].images.shape() == Shape{8, 3, 4, 4});
  CHECK(batches[1].images.shape() == Shape{4, 3, 4, 4});  // the last batch has B = 2
  for (const Batch& b : batches) {
    for (int64_t k = 0; k < b.size(); ++k) {
      CHECK(same_rows(b.images, k, b.size() + k));  // no transform: both views are the image
      CHECK(b.images.data<float>()[k * 48] == doctest::Approx(double(b.indices[size_t(k)]) / 255.0));
    }
  }

  // With an augmentation the two views differ, and each is the transform run on its documented stream.
  SyntheticDataset shapes(Split::train, 16, 1);
  const auto aug = simclr_augment(32);
  opt.transform = aug.get();
  opt.seed = 9;
  Loader augmented(shapes, opt);
  const auto ab = whole_epoch(augmented, 3);
  int differ = 0, rows = 0;
  for (const Batch& b : ab) {
    for (int64_t k = 0; k < b.size(); ++k) {
      differ += same_rows(b.images, k, b.size() + k) ? 0 : 1;
      ++rows;
    }
  }
  CHECK(differ == rows);
  const Batch& b = ab[1];
  const int64_t k = 2, index = b.indices[size_t(k)];
  rng::Stream view2(9, rng::mix64(rng::mix64(3, uint64_t(index)), 1));
  const Image expected = aug->apply(shapes.image(index), view2);
  const float* row = b.images.data<float>() + (b.size() + k) * 3 * 32 * 32;
  int mismatches = 0;
  for (int64_t ch = 0; ch < 3; ++ch) {
    for (int64_t y = 0; y < 32; ++y) {
      for (int64_t x = 0; x < 32; ++x) {
        mismatches += row[(ch * 32 + y) * 32 + x] == expected(y, x, ch) / 255.f ? 0 : 1;
      }
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("loader: batches are identical with 0, 1 or 3 workers") {
  SyntheticDataset shapes(Split::train, 50, 4);
  const auto aug = simclr_augment(32);
  auto run = [&](int workers) {
    LoaderOptions opt;
    opt.batch_size = 8;
    opt.views = 2;
    opt.seed = 77;
    opt.workers = workers;
    opt.prefetch = 1;
    opt.transform = aug.get();
    opt.mean = {0.5f, 0.4f, 0.3f};
    opt.stddev = {0.2f};
    Loader loader(shapes, opt);
    auto first = whole_epoch(loader, 0);
    auto second = whole_epoch(loader, 1);
    first.insert(first.end(), second.begin(), second.end());
    return first;
  };
  const auto ref = run(0);
  REQUIRE(ref.size() == 14);
  for (int workers : {1, 3}) {
    CAPTURE(workers);
    const auto got = run(workers);
    REQUIRE(got.size() == ref.size());
    for (size_t i = 0; i < ref.size(); ++i) {
      CHECK(got[i].indices == ref[i].indices);
      CHECK(got[i].labels.to_vector<int64_t>() == ref[i].labels.to_vector<int64_t>());
      CHECK(same_floats(got[i].images, ref[i].images));
    }
  }
  CHECK(!same_floats(ref[0].images, ref[7].images));  // epochs differ (guards against a constant output)
}

TEST_CASE("loader: an exception in a worker reaches next(), in batch order") {
  TinyDataset data(20, /*bad=*/9);
  for (int workers : {0, 1, 3}) {
    CAPTURE(workers);
    LoaderOptions opt;
    opt.batch_size = 4;
    opt.shuffle = false;
    opt.workers = workers;
    Loader loader(data, opt);
    for (int round = 0; round < 2; ++round) {  // and the loader still works after a failed epoch
      loader.start_epoch(round);
      Batch b;
      CHECK(loader.next(b));
      CHECK(b.indices.front() == 0);
      CHECK(loader.next(b));
      CHECK(b.indices.front() == 4);
      bool threw = false;
      try {
        loader.next(b);
      } catch (const ssl::Error& e) {
        threw = std::string(e.what()).find("image 9 is broken") != std::string::npos;
      }
      CHECK(threw);
      CHECK_FALSE(loader.next(b));  // the epoch ended with the error
    }
  }
}

TEST_CASE("loader: mismatched sizes and bad options are reported") {
  TinyDataset data(8, -1, /*odd=*/6);
  LoaderOptions opt;
  opt.batch_size = 4;
  opt.shuffle = false;
  Loader loader(data, opt);
  loader.start_epoch(0);
  Batch b;
  CHECK(loader.next(b));
  CHECK_THROWS_WITH_AS(loader.next(b), doctest::Contains("add a Resize"), ssl::Error);

  TinyDataset fine(4);
  Loader not_started(fine, opt);
  CHECK_THROWS_AS(not_started.next(b), ssl::Error);
  opt.mean = {0.1f, 0.2f};  // two values for three channels
  Loader wrong_mean(fine, opt);
  wrong_mean.start_epoch(0);
  CHECK_THROWS_WITH_AS(wrong_mean.next(b), doctest::Contains("mean has 2 values"), ssl::Error);
  opt.mean.clear();
  for (auto bad : {LoaderOptions{.batch_size = 0}, LoaderOptions{.views = 0}, LoaderOptions{.workers = -1},
                   LoaderOptions{.stddev = {0.f}}}) {
    CHECK_THROWS_AS(Loader(fine, bad), ssl::Error);
  }
}

TEST_CASE("loader: restarting or destroying mid-epoch is clean") {
  SyntheticDataset shapes(Split::train, 64, 2);
  const auto aug = simclr_augment(32);
  LoaderOptions opt;
  opt.batch_size = 4;
  opt.views = 2;
  opt.workers = 3;
  opt.transform = aug.get();
  Loader reference(shapes, opt);
  const auto expected = whole_epoch(reference, 1);

  Loader loader(shapes, opt);
  loader.start_epoch(0);
  Batch b;
  CHECK(loader.next(b));  // workers are now busy on epoch 0
  const auto got = whole_epoch(loader, 1);
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(same_floats(got[i].images, expected[i].images));

  // Restart while every worker is inside a batch of the old epoch: those batches must be thrown away.
  GatedDataset gated(40);
  LoaderOptions gopt;
  gopt.batch_size = 4;
  gopt.workers = 3;
  gopt.prefetch = 0;
  gopt.seed = 5;
  Loader held(gated, gopt);
  held.start_epoch(0);
  gated.wait_for_callers(3);  // the three workers each hold a batch of epoch 0
  held.start_epoch(1);
  gated.open();
  const auto fresh = drain(held);
  const auto order = held.sample_order(1);
  REQUIRE(fresh.size() == 10);
  for (size_t i = 0; i < fresh.size(); ++i) {
    CHECK(fresh[i].indices == std::vector<int64_t>(order.begin() + 4 * i, order.begin() + 4 * i + 4));
  }

  for (int taken = 0; taken < 3; ++taken) {
    Loader early(shapes, opt);  // destroyed with batches in flight
    early.start_epoch(0);
    for (int i = 0; i < taken; ++i) CHECK(early.next(b));
  }
  Loader never_started(shapes, opt);
  CHECK(never_started.batches_per_epoch() == 16);
}

TEST_CASE(
    "loader: pin_memory gives the same batches in page-locked memory (needs a GPU; else a clear error)") {
  SyntheticDataset shapes(Split::train, 20, 4);
  LoaderOptions opt;
  opt.batch_size = 8;
  opt.seed = 5;
  Loader plain(shapes, opt);
  opt.pin_memory = true;
  Loader pinned(shapes, opt);
  if (!kernels::cuda::cuda_is_available()) {
    MESSAGE("skipped: no CUDA device (checked that pin_memory says why it cannot work)");
    pinned.start_epoch(0);
    Batch b;
    CHECK_THROWS_WITH_AS(pinned.next(b), doctest::Contains("pinned"), ssl::Error);
    return;
  }
  const auto want = whole_epoch(plain, 0), got = whole_epoch(pinned, 0);
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    CHECK(got[i].images.storage()->pinned());
    CHECK(same_floats(got[i].images, want[i].images));
    Batch moved = got[i];
    moved.to(Device::cuda(0));
    CHECK(moved.images.device() == Device::cuda(0));
    CHECK(same_floats(moved.images.to(Device::cpu()), want[i].images));
    CHECK(moved.labels.to_vector<int64_t>() == want[i].labels.to_vector<int64_t>());
  }
}
