// Philox4x32-10, a counter-based random number generator (Salmon et al., SC'11).
//
// A counter-based generator maps (key, counter) to random bits with no hidden state, so the value drawn
// for element i depends only on the seed and i: results are the same whatever the number of threads, and
// a CUDA kernel draws exactly what the CPU draws for the same seed.
#pragma once

#include <cstdint>

#include "kernels/common/host_device.h"

namespace ssl::rng {

struct Bits128 {
  uint32_t v[4];
};

SSL_HD void philox_round(uint32_t ctr[4], const uint32_t key[2]) {
  constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  const uint64_t p0 = uint64_t(kMul0) * ctr[0];
  const uint64_t p1 = uint64_t(kMul1) * ctr[2];
  const uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0);
  const uint32_t hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
  const uint32_t c0 = hi1 ^ ctr[1] ^ key[0];
  const uint32_t c2 = hi0 ^ ctr[3] ^ key[1];
  ctr[0] = c0;
  ctr[1] = lo1;
  ctr[2] = c2;
  ctr[3] = lo0;
}

// Ten rounds of Philox4x32 on a 128-bit counter with a 64-bit key.
SSL_HD Bits128 philox4x32(uint64_t key, uint64_t counter_lo, uint64_t counter_hi) {
  uint32_t k[2] = {uint32_t(key), uint32_t(key >> 32)};
  uint32_t c[4] = {uint32_t(counter_lo), uint32_t(counter_lo >> 32), uint32_t(counter_hi),
                   uint32_t(counter_hi >> 32)};
  constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    philox_round(c, k);
    k[0] += kWeyl0;
    k[1] += kWeyl1;
  }
  return Bits128{{c[0], c[1], c[2], c[3]}};
}

// A float uniform in [0, 1) from the top 24 bits of a word.
SSL_HD float uniform01(uint32_t bits) { return float(bits >> 8) * (1.0f / 16777216.0f); }

// A double uniform in (0, 1], safe to take the log of (Box-Muller).
SSL_HD double uniform01_open(uint32_t hi, uint32_t lo) {
  const uint64_t x = (uint64_t(hi) << 21) ^ uint64_t(lo >> 11);  // 53 random bits
  return (double(x & ((uint64_t(1) << 53) - 1)) + 1.0) * (1.0 / 9007199254740992.0);
}

// A stream of random numbers for one purpose (one sample, one tensor): key = seed, the counter's high
// word names the stream, its low word counts draws. Cheap to create, so each sample gets its own.
struct Stream {
  uint64_t seed;
  uint64_t stream_id;
  uint64_t next = 0;  // index of the next 128-bit block
  uint32_t buffer[4] = {0, 0, 0, 0};
  int used = 4;

  SSL_HD Stream(uint64_t seed_, uint64_t stream_id_) : seed(seed_), stream_id(stream_id_) {}

  SSL_HD uint32_t next_u32() {
    if (used == 4) {
      const Bits128 b = philox4x32(seed, next++, stream_id);
      for (int i = 0; i < 4; ++i) buffer[i] = b.v[i];
      used = 0;
    }
    return buffer[used++];
  }
  // Uniform in [lo, hi).
  SSL_HD float uniform(float lo = 0.f, float hi = 1.f) { return lo + (hi - lo) * uniform01(next_u32()); }
  // Uniform integer in [0, n).
  SSL_HD uint32_t below(uint32_t n) { return uint32_t((uint64_t(next_u32()) * n) >> 32); }
  SSL_HD bool bernoulli(float p) { return uniform() < p; }
};

// Mixes several 64-bit words into one (SplitMix64 finaliser), to derive stream ids from (epoch, index, ...).
SSL_HD uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
SSL_HD uint64_t mix64(uint64_t a, uint64_t b) { return mix64(a ^ mix64(b)); }

}  // namespace ssl::rng
