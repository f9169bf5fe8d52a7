// Loader: turns a Dataset into a stream of float batches, augmenting on worker threads.
//
// Reproducibility is the design constraint. The sample order of an epoch comes from (seed, epoch), and
// view v of sample i in epoch e is transformed with its own stream rng::Stream(seed, mix64(mix64(e, i), v)),
// so a batch is a pure function of (seed, epoch, batch number): the same whatever the number of workers or
// the thread that built it. Workers build whole batches ahead of the caller into a bounded queue, and
// next() hands them out in order.
//
// Use from one thread: start_epoch(e), then next() until it returns false; start_epoch may be called again
// at any time (a partly consumed epoch is abandoned).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/tensor.h"
#include "data/dataset.h"
#include "data/transforms.h"

namespace ssl::data {

struct LoaderOptions {
  int64_t batch_size = 256;
  bool shuffle = true;
  bool drop_last = false;  // drop the last batch when it would be smaller than batch_size
  uint64_t seed = 0;
  int workers = 0;   // threads building batches; 0 builds each batch on the caller's thread inside next()
  int views = 1;     // augmented views per sample: 1, or 2 for contrastive methods (any >= 1 works)
  int prefetch = 2;  // batches that may be built ahead beyond one per worker (bounds memory)
  const Transform* transform = nullptr;  // applied to every view; null = none. Must outlive the loader.
  // Per-channel normalisation after scaling pixels to [0, 1]: (x / 255 - mean) / stddev. Each is empty
  // (mean 0, stddev 1), one value for every channel, or one value per channel.
  std::vector<float> mean = {};
  std::vector<float> stddev = {};
  // Build batches in page-locked host memory, for training on a GPU: Batch::to then copies them at full
  // bus speed. Needs the CUDA backend (the first batch throws ssl::Error without it).
  bool pin_memory = false;
};

struct Batch {
  // float32 [views * B, C, H, W], contiguous. With several views, rows v*B .. v*B + B-1 hold view v of
  // the B samples, in the same sample order for every view (rows k and B + k are two views of one sample).
  Tensor images;
  Tensor labels;                                            // int64 [B]; -1 for unlabelled samples
  std::vector<int64_t> indices;                             // [B] dataset indices of the samples
  int64_t size() const { return int64_t(indices.size()); }  // B
  // Moves images and labels to `device` (no copy when they are there already).
  void to(Device device);
};

class Loader {
 public:
  // `dataset` must outlive the loader. Throws ssl::Error on invalid options.
  Loader(const Dataset& dataset, LoaderOptions options);
  ~Loader();  // stops and joins the workers, also in the middle of an epoch
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // Starts (or restarts) epoch `epoch`: fixes its sample order and sets the workers going.
  void start_epoch(int64_t epoch);
  // Stores the next batch of the epoch in `batch` and returns true, or returns false at the end of the
  // epoch. An exception thrown while building this batch (by the dataset or a transform, on any thread)
  // is rethrown here; the epoch then ends (next() returns false until the next start_epoch).
  bool next(Batch& batch);

  int64_t batches_per_epoch() const { return num_batches_; }
  const LoaderOptions& options() const { return opt_; }

  // The order in which epoch `epoch` visits the dataset (a permutation when shuffling, else 0..n-1).
  std::vector<int64_t> sample_order(int64_t epoch) const;

 private:
  struct Slot {
    Batch batch;
    std::exception_ptr error;
  };
  // Builds batch `b` of an epoch; touches no shared state, so any thread may call it.
  Batch make_batch(int64_t epoch, const std::vector<int64_t>& order, int64_t b) const;
  void worker_loop();

  const Dataset& dataset_;
  LoaderOptions opt_;
  int64_t num_batches_ = 0;

  // Everything below is guarded by mu_.
  std::mutex mu_;
  std::condition_variable work_cv_;   // workers wait here for a batch to build
  std::condition_variable ready_cv_;  // next() waits here for the batch it wants
  bool stop_ = false;
  bool started_ = false;
  bool failed_ = false;      // a batch of this epoch threw; the epoch is over
  uint64_t generation_ = 0;  // bumped by start_epoch: batches of an older epoch are discarded
  int64_t epoch_ = 0;
  std::shared_ptr<const std::vector<int64_t>> order_;
  int64_t next_to_build_ = 0;
  int64_t next_to_deliver_ = 0;
  std::map<int64_t, Slot> ready_;  // finished batches (or their errors) by batch number

  std::vector<std::thread> threads_;  // last: started once everything above exists
};

// For a loader cycled pass after pass within a longer epoch (a labelled set beside more unlabelled images):
// stores the next batch of pass `pass` in `batch`, or, when that pass is over, starts pass + 1 (counted in
// `pass`) and stores its first batch. Returns false only when a fresh pass has no batch.
bool next_cycled(Loader& loader, Batch& batch, int64_t& pass);

}  // namespace ssl::data
