// Seeded random numbers for tensors. A Generator hands out Philox streams numbered 0, 1, 2, ...; each
// random tensor takes one stream and element i takes the i-th draws of it, so the values depend only on
// the seed and on how many random tensors were made before, never on threads.
#pragma once

#include <cstdint>

#include "kernels/common/philox.h"

namespace ssl {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  uint64_t streams_used() const { return next_stream_; }
  void set_state(uint64_t seed, uint64_t streams_used) {
    seed_ = seed;
    next_stream_ = streams_used;
  }
  // The id of a fresh stream; draw from it with rng::Stream(seed(), id) or rng::philox4x32.
  uint64_t take_stream() { return next_stream_++; }
  rng::Stream stream() { return rng::Stream(seed_, take_stream()); }

 private:
  uint64_t seed_;
  uint64_t next_stream_ = 0;
};

// The process-wide generator used when none is passed (parameter initialisation, dropout).
Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace ssl
