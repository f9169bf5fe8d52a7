// Host memory for tensors. A training step allocates and frees the same buffers every step; asking the OS for
// each large one and giving it back costs page faults (a fifth of a small model's step), so large blocks
// are carved from chunks that are kept between steps.
//
// A freed range merges with its free neighbours, and a request takes the smallest free range that fits
// (best fit, lowest address among equals). Merging is what keeps the footprint near the peak of live
// tensors: the gradients of a network's first layers, allocated late in the backward pass, reuse the
// memory its last layers' activations, differently sized, have just released. (A cache of blocks by exact
// size cannot: on ResNet-18 it held 400 MB more than the live tensors at their peak.)
//
// Small blocks go to malloc, which already serves them well. Fully free chunks are kept up to
// SSL_CPU_CACHE_MB megabytes of free memory (default 4096) and returned to the OS beyond it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <map>
#include <mutex>
#include <set>
#include <utility>

namespace ssl {

struct HostArenaStats {
  size_t in_use = 0;  // bytes of live blocks carved from chunks
  size_t peak_in_use = 0;
  size_t reserved = 0;  // bytes of all chunks held, live or free
  size_t peak_reserved = 0;
};

class HostArena {
 public:
  // Blocks of at least this many bytes come from chunks; smaller ones from malloc.
  static constexpr size_t kMinArenaBlock = size_t(1) << 20;
  // A new chunk holds at least this much, so that the many blocks of a layer share a few chunks.
  static constexpr size_t kMinChunk = size_t(64) << 20;
  static constexpr size_t kAlignment = 64;

  explicit HostArena(size_t free_limit_bytes);
  ~HostArena();
  HostArena(const HostArena&) = delete;
  HostArena& operator=(const HostArena&) = delete;

  // The bytes a request of nbytes occupies: a multiple of kAlignment, never 0.
  static size_t block_size(size_t nbytes) {
    return (std::max<size_t>(nbytes, 1) + kAlignment - 1) / kAlignment * kAlignment;
  }
  // 64-byte aligned, uninitialised; nullptr when the OS refuses. `release` takes the same size.
  void* allocate(size_t nbytes);
  void release(void* p, size_t nbytes);
  HostArenaStats stats() const;

 private:
  void* carve(size_t size);  // from free ranges; nullptr if none fits
  void insert_free(char* start, size_t size);
  void erase_free(std::map<char*, size_t>::iterator it);
  void return_free_chunks();

  mutable std::mutex mu_;
  std::map<char*, size_t> chunks_;                   // start -> size
  std::map<char*, size_t> free_by_address_;          // start -> size, for merging neighbours
  std::set<std::pair<size_t, char*>> free_by_size_;  // (size, start), for best fit
  size_t free_limit_ = 0;
  HostArenaStats stats_;
};

// The process's arena for CPU tensors (core/storage.cpp).
HostArena& host_arena();

}  // namespace ssl
