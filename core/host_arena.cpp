#include "core/host_arena.h"

#include <algorithm>
#include <cstdlib>

namespace ssl {

HostArena::HostArena(size_t free_limit_bytes) : free_limit_(free_limit_bytes) {}

HostArena::~HostArena() {
  for (auto& [start, size] : chunks_) std::free(start);
}

void* HostArena::allocate(size_t nbytes) {
  const size_t size = block_size(nbytes);
  if (size < kMinArenaBlock) return std::aligned_alloc(kAlignment, size);
  std::lock_guard<std::mutex> lock(mu_);
  void* p = carve(size);
  if (!p) {
    const size_t chunk = (std::max(size, kMinChunk) + 4095) / 4096 * 4096;
    char* start = static_cast<char*>(std::aligned_alloc(4096, chunk));
    if (!start) return nullptr;
    chunks_[start] = chunk;
    stats_.reserved += chunk;
    stats_.peak_reserved = std::max(stats_.peak_reserved, stats_.reserved);
    insert_free(start, chunk);
    p = carve(size);
  }
  stats_.in_use += size;
  stats_.peak_in_use = std::max(stats_.peak_in_use, stats_.in_use);
  return p;
}

void HostArena::release(void* p, size_t nbytes) {
  if (!p) return;
  const size_t size = block_size(nbytes);
  if (size < kMinArenaBlock) return std::free(p);
  std::lock_guard<std::mutex> lock(mu_);
  stats_.in_use -= size;
  insert_free(static_cast<char*>(p), size);
  if (stats_.reserved - stats_.in_use > free_limit_) return_free_chunks();
}

HostArenaStats HostArena::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void* HostArena::carve(size_t size) {
  const auto fit = free_by_size_.lower_bound({size, nullptr});
  if (fit == free_by_size_.end()) return nullptr;
  const auto [range_size, start] = *fit;
  erase_free(free_by_address_.find(start));
  // The rest stays free. Its right neighbour is not free (free ranges are always merged), so no merge.
  if (range_size > size) {
    free_by_address_[start + size] = range_size - size;
    free_by_size_.insert({range_size - size, start + size});
  }
  return start;
}

// Adds [start, start + size) to the free ranges, merged with free neighbours in the same chunk.
void HostArena::insert_free(char* start, size_t size) {
  const auto next = free_by_address_.find(start + size);
  if (next != free_by_address_.end() && !chunks_.contains(start + size)) {
    size += next->second;
    erase_free(next);
  }
  auto prev = free_by_address_.lower_bound(start);
  if (prev != free_by_address_.begin() && !chunks_.contains(start)) {
    --prev;
    if (prev->first + prev->second == start) {
      start = prev->first;
      size += prev->second;
      erase_free(prev);
    }
  }
  free_by_address_[start] = size;
  free_by_size_.insert({size, start});
}

void HostArena::erase_free(std::map<char*, size_t>::iterator it) {
  free_by_size_.erase({it->second, it->first});
  free_by_address_.erase(it);
}

// Returns wholly free chunks to the OS, largest first, until the free memory is within the limit.
void HostArena::return_free_chunks() {
  while (stats_.reserved - stats_.in_use > free_limit_) {
    char* best = nullptr;
    size_t best_size = 0;
    for (const auto& [start, size] : chunks_) {
      const auto it = free_by_address_.find(start);
      if (it != free_by_address_.end() && it->second == size && size > best_size) {
        best = start;
        best_size = size;
      }
    }
    if (!best) return;
    erase_free(free_by_address_.find(best));
    chunks_.erase(best);
    stats_.reserved -= best_size;
    std::free(best);
  }
}

HostArena& host_arena() {
  static HostArena* arena = [] {
    const char* env = std::getenv("SSL_CPU_CACHE_MB");
    return new HostArena(size_t(env ? std::atoll(env) : 4096) << 20);
  }();
  return *arena;  // never destroyed: tensors may outlive static destructors
}

}  // namespace ssl
