// The host arena (core/host_arena.h): blocks never overlap, freed neighbours merge, best fit, small blocks
// bypass it, and free chunks beyond the limit go back to the OS.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "core/host_arena.h"

namespace ssl {
namespace {

constexpr size_t kMB = size_t(1) << 20;

TEST_CASE("host arena: a block freed between two free neighbours merges with both and is reused whole") {
  HostArena arena(/*free_limit_bytes=*/size_t(1) << 40);
  void* a = arena.allocate(8 * kMB);
  void* b = arena.allocate(8 * kMB);
  void* c = arena.allocate(8 * kMB);
  void* keep = arena.allocate(8 * kMB);  // after c, so the merged range is bounded on the right
  CHECK(static_cast<char*>(b) == static_cast<char*>(a) + 8 * kMB);
  CHECK(arena.stats().reserved == HostArena::kMinChunk);
  arena.release(a, 8 * kMB);
  arena.release(c, 8 * kMB);
  arena.release(b, 8 * kMB);
  // 24 MB in one piece at a's address: a request of that size takes it without a new chunk.
  void* big = arena.allocate(24 * kMB);
  CHECK(big == a);
  CHECK(arena.stats().reserved == HostArena::kMinChunk);
  CHECK(arena.stats().in_use == 32 * kMB);
  CHECK(arena.stats().peak_in_use == 32 * kMB);
  arena.release(big, 24 * kMB);
  arena.release(keep, 8 * kMB);
  CHECK(arena.stats().in_use == 0);
}

TEST_CASE("host arena: best fit takes the smallest free range that holds the request") {
  HostArena arena(size_t(1) << 40);
  std::vector<void*> blocks;
  for (size_t mb : {6, 1, 3, 1, 2, 1}) blocks.push_back(arena.allocate(mb * kMB));
  arena.release(blocks[0], 6 * kMB);  // free ranges: 6 MB, 3 MB, 2 MB (separated by live 1 MB blocks)
  arena.release(blocks[2], 3 * kMB);
  arena.release(blocks[4], 2 * kMB);
  CHECK(arena.allocate(2 * kMB) == blocks[4]);
  CHECK(arena.allocate(3 * kMB) == blocks[2]);
  CHECK(arena.allocate(4 * kMB) == blocks[0]);
}

TEST_CASE("host arena: a request larger than the minimum chunk gets a chunk of its own size") {
  HostArena arena(size_t(1) << 40);
  const size_t size = HostArena::kMinChunk + 5 * kMB;
  void* p = arena.allocate(size);
  REQUIRE(p != nullptr);
  CHECK(arena.stats().reserved == size);
  arena.release(p, size);
}

TEST_CASE("host arena: blocks below the arena's minimum come from malloc and are not counted") {
  HostArena arena(size_t(1) << 40);
  void* p = arena.allocate(1000);
  REQUIRE(p != nullptr);
  CHECK(reinterpret_cast<uintptr_t>(p) % HostArena::kAlignment == 0);
  CHECK(arena.stats().reserved == 0);
  CHECK(arena.stats().in_use == 0);
  arena.release(p, 1000);
}

TEST_CASE("host arena: wholly free chunks beyond the free limit are returned") {
  HostArena arena(/*free_limit_bytes=*/0);
  void* a = arena.allocate(2 * kMB);
  void* b = arena.allocate(2 * kMB);
  arena.release(a, 2 * kMB);
  CHECK(arena.stats().reserved == HostArena::kMinChunk);  // b still lives in the chunk
  arena.release(b, 2 * kMB);
  CHECK(arena.stats().reserved == 0);
  CHECK(arena.stats().peak_reserved == HostArena::kMinChunk);
}

TEST_CASE("host arena: random allocations never overlap and keep their contents") {
  HostArena arena(size_t(1) << 40);
  struct Block {
    unsigned char* p;
    size_t size;
    unsigned char tag;
  };
  std::vector<Block> live;
  std::mt19937 rng(7);
  size_t live_bytes = 0;
  for (int step = 0; step < 400; ++step) {
    if (!live.empty() && rng() % 3 == 0) {
      const size_t k = rng() % live.size();
      const Block b = live[k];
      bool intact = b.p[b.size - 1] == b.tag;  // untouched by the other blocks
      for (size_t i = 0; i < b.size; i += 4093) intact = intact && b.p[i] == b.tag;
      REQUIRE(intact);
      arena.release(b.p, b.size);
      live_bytes -= (b.size + 63) / 64 * 64;
      live.erase(live.begin() + long(k));
    } else {
      const size_t size = kMB + rng() % (20 * kMB);
      const Block b{static_cast<unsigned char*>(arena.allocate(size)), size,
                    static_cast<unsigned char>(step)};
      REQUIRE(b.p != nullptr);
      REQUIRE(reinterpret_cast<uintptr_t>(b.p) % HostArena::kAlignment == 0);
      std::memset(b.p, b.tag, b.size);
      live.push_back(b);
      live_bytes += (size + 63) / 64 * 64;
    }
    REQUIRE(arena.stats().in_use == live_bytes);
  }
  for (const Block& b : live) arena.release(b.p, b.size);
  CHECK(arena.stats().in_use == 0);
}

}  // namespace
}  // namespace ssl
