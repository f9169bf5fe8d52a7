#include "data/loader.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <system_error>
#include <utility>

#include "core/error.h"
#include "kernels/common/philox.h"

namespace ssl::data {
namespace {

// Tags the sample-order stream so it can never coincide with a sample's transform stream.
constexpr uint64_t kOrderStreamTag = 0x6f726465725f5f5full;  // "order___"

// Expands an empty / one-value / per-channel option to `channels` values.
std::vector<float> per_channel(const std::vector<float>& v, float fallback, int64_t channels,
                               const char* what) {
  if (v.empty()) return std::vector<float>(size_t(channels), fallback);
  if (v.size() == 1) return std::vector<float>(size_t(channels), v[0]);
  SSL_CHECK(int64_t(v.size()) == channels, "Loader: ", what, " has ", v.size(),
            " values but the images have ", channels, " channels");
  return v;
}

}  // namespace

Loader::Loader(const Dataset& dataset, LoaderOptions options) : dataset_(dataset), opt_(std::move(options)) {
  SSL_CHECK(opt_.batch_size >= 1, "Loader: batch_size must be >= 1, got ", opt_.batch_size);
  SSL_CHECK(opt_.views >= 1, "Loader: views must be >= 1, got ", opt_.views);
  SSL_CHECK(opt_.workers >= 0, "Loader: workers must be >= 0, got ", opt_.workers);
  SSL_CHECK(opt_.prefetch >= 0, "Loader: prefetch must be >= 0, got ", opt_.prefetch);
  for (float s : opt_.stddev)
    SSL_CHECK(s > 0 && std::isfinite(s), "Loader: stddev values must be finite and > 0, got ", opt_.stddev);
  for (float m : opt_.mean)
    SSL_CHECK(std::isfinite(m), "Loader: mean values must be finite, got ", opt_.mean);
  const int64_t n = dataset_.size();
  // Not (n + batch_size - 1) / batch_size, which overflows for a batch size near 2^63.
  num_batches_ = opt_.drop_last ? n / opt_.batch_size : n / opt_.batch_size + (n % opt_.batch_size != 0);
  try {
    for (int i = 0; i < opt_.workers; ++i) threads_.emplace_back([this] { worker_loop(); });
  } catch (...) {  // a thread (or the memory for one) could not be had: stop those that started first
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    work_cv_.notify_all();
    for (auto& t : threads_) t.join();
    try {
      throw;
    } catch (const std::system_error& e) {  // the system's refusal, said with the flag that asked for it
      throw Error(str_cat("Loader: could not start data-loading thread ", threads_.size() + 1, " of ",
                          opt_.workers, " (", e.what(), "); ask for fewer workers"));
    }
  }
}

Loader::~Loader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : threads_) t.join();  // a worker finishes the batch it is building, then exits
}

std::vector<int64_t> Loader::sample_order(int64_t epoch) const {
  std::vector<int64_t> order(size_t(dataset_.size()));
  for (size_t i = 0; i < order.size(); ++i) order[i] = int64_t(i);
  if (opt_.shuffle) {
    SSL_CHECK(order.size() <= UINT32_MAX, "Loader: cannot shuffle more than 2^32 samples");
    rng::Stream rs(rng::mix64(opt_.seed, kOrderStreamTag), uint64_t(epoch));
    for (size_t i = order.size(); i > 1; --i)
      std::swap(order[i - 1], order[rs.below(uint32_t(i))]);  // Fisher-Yates
  }
  return order;
}

void Loader::start_epoch(int64_t epoch) {
  auto order = std::make_shared<const std::vector<int64_t>>(sample_order(epoch));
  std::map<int64_t, Slot> stale;  // freed outside the lock
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++generation_;
    epoch_ = epoch;
    order_ = std::move(order);
    next_to_build_ = next_to_deliver_ = 0;
    stale.swap(ready_);
    failed_ = false;
    started_ = true;
  }
  work_cv_.notify_all();
}

bool Loader::next(Batch& batch) {
  std::unique_lock<std::mutex> lock(mu_);
  SSL_CHECK(started_, "Loader::next: call start_epoch(epoch) first");
  if (failed_ || next_to_deliver_ >= num_batches_) return false;
  const int64_t b = next_to_deliver_++;

  Slot slot;
  if (threads_.empty()) {
    const int64_t epoch = epoch_;
    const auto order = order_;
    lock.unlock();
    try {
      slot.batch = make_batch(epoch, *order, b);
    } catch (...) {
      slot.error = std::current_exception();
    }
    lock.lock();
  } else {
    work_cv_.notify_all();  // the window of batches that may be built has moved on by one
    ready_cv_.wait(lock, [&] { return ready_.count(b) > 0; });
    auto it = ready_.find(b);
    slot = std::move(it->second);
    ready_.erase(it);
  }
  if (slot.error) {
    failed_ = true;
    lock.unlock();
    std::rethrow_exception(slot.error);
  }
  lock.unlock();
  batch = std::move(slot.batch);
  return true;
}

void Loader::worker_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  // Batches [next_to_deliver_, next_to_deliver_ + window) may be in flight: being built or waiting.
  const int64_t window = int64_t(opt_.workers) + opt_.prefetch;
  for (;;) {
    work_cv_.wait(lock, [&] {
      return stop_ || (started_ && !failed_ && next_to_build_ < num_batches_ &&
                       next_to_build_ < next_to_deliver_ + window);
    });
    if (stop_) return;
    const int64_t b = next_to_build_++;
    const uint64_t generation = generation_;
    const int64_t epoch = epoch_;
    const auto order = order_;
    lock.unlock();

    Slot slot;
    try {
      slot.batch = make_batch(epoch, *order, b);
    } catch (...) {
      slot.error = std::current_exception();
    }

    lock.lock();
    if (generation == generation_) {  // else start_epoch was called meanwhile: drop it
      ready_.emplace(b, std::move(slot));
      ready_cv_.notify_all();
    }
  }
}

void Batch::to(Device device) {
  images = images.to(device);
  if (labels.defined()) labels = labels.to(device);
}

Batch Loader::make_batch(int64_t epoch, const std::vector<int64_t>& order, int64_t b) const {
  const int64_t start = b * opt_.batch_size;
  const int64_t count = std::min<int64_t>(opt_.batch_size, int64_t(order.size()) - start);
  const int64_t views = opt_.views;
  Batch batch;
  batch.indices.assign(order.begin() + start, order.begin() + start + count);
  batch.labels =
      opt_.pin_memory ? Tensor::empty_pinned({count}, DType::i64) : Tensor::empty({count}, DType::i64);
  int64_t* labels = batch.labels.data<int64_t>();

  int64_t H = 0, W = 0, C = 0;
  float* out = nullptr;
  // lut[ch][p] = (p / 255 - mean[ch]) / stddev[ch]: one table lookup per pixel.
  std::vector<std::array<float, 256>> lut;

  for (int64_t k = 0; k < count; ++k) {
    const int64_t index = batch.indices[size_t(k)];
    const Image original = dataset_.image(index);
    labels[k] = dataset_.label(index);
    for (int64_t v = 0; v < views; ++v) {
      rng::Stream rs(opt_.seed, rng::mix64(rng::mix64(uint64_t(epoch), uint64_t(index)), uint64_t(v)));
      const Image transformed = opt_.transform ? opt_.transform->apply(original, rs) : Image();
      const Image& img = opt_.transform ? transformed : original;

      if (out == nullptr) {  // the first image fixes the batch's geometry
        H = img.h, W = img.w, C = img.c;
        SSL_CHECK(H > 0 && W > 0 && C > 0, "Loader: ", dataset_.name(), " sample ", index, " is empty");
        const Shape shape = {views * count, C, H, W};
        batch.images = opt_.pin_memory ? Tensor::empty_pinned(shape) : Tensor::empty(shape);
        out = batch.images.data<float>();
        const auto mean = per_channel(opt_.mean, 0.f, C, "mean");
        const auto stddev = per_channel(opt_.stddev, 1.f, C, "stddev");
        lut.resize(size_t(C));
        for (int64_t ch = 0; ch < C; ++ch) {
          for (int p = 0; p < 256; ++p)
            lut[size_t(ch)][size_t(p)] = (p / 255.f - mean[size_t(ch)]) / stddev[size_t(ch)];
        }
      }
      SSL_CHECK(img.h == H && img.w == W && img.c == C, "Loader: ", dataset_.name(), " sample ", index,
                " is ", img.h, "x", img.w, "x", img.c, " (HxWxC) but the batch's first is ", H, "x", W, "x",
                C, "; add a Resize or crop transform so that all images have one size");
      // A Dataset of the user's own may hand out an Image whose buffer disagrees with its size.
      SSL_CHECK(int64_t(img.pixels.size()) == H * W * C, "Loader: ", dataset_.name(), " sample ", index,
                " is ", H, "x", W, "x", C, " but holds ", img.pixels.size(), " bytes");

      // HWC uint8 -> CHW float, into row v * count + k.
      float* dst = out + (v * count + k) * C * H * W;
      for (int64_t ch = 0; ch < C; ++ch) {
        const float* table = lut[size_t(ch)].data();
        float* plane = dst + ch * H * W;
        for (int64_t i = 0; i < H * W; ++i) plane[i] = table[img.pixels[size_t(i * C + ch)]];
      }
    }
  }
  return batch;
}

bool next_cycled(Loader& loader, Batch& batch, int64_t& pass) {
  if (loader.next(batch)) return true;
  loader.start_epoch(++pass);
  return loader.next(batch);
}

}  // namespace ssl::data
