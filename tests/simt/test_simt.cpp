// The SIMT emulation behaves as a GPU does on what our kernels rely on: every thread of every block runs,
// shared memory is per block and survives __syncthreads, shuffles move values between lanes, atomics add
// up, threads that return early do not block __syncthreads of the others, and a barrier that cannot complete
// is reported.
#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "kernels/cuda/kernel.cuh"

using namespace ssl;
using kernels::cuda_emulated::launch;

namespace {

__global__ void write_coordinates(int* out) {
  const int block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const int thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  out[block * blockDim.x * blockDim.y * blockDim.z + thread] = block * 1000 + thread;
}

// Sum of each block's values: a tree in shared memory, then the last 32 partial sums through shuffles.
__global__ void block_sums(const float* x, float* sums) {
  __shared__ float partial[256];
  const int t = threadIdx.x;
  partial[t] = x[blockIdx.x * 256 + t];
  __syncthreads();
  for (int half = 128; half >= 32; half /= 2) {
    if (t < half) partial[t] += partial[t + half];
    __syncthreads();
  }
  if (t < 32) {
    float v = partial[t];
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
    if (t == 0) sums[blockIdx.x] = v;
  }
}

__global__ void butterfly(const int* x, int* out) {
  int v = x[threadIdx.x];
  for (int mask = 1; mask < 32; mask *= 2) v += __shfl_xor_sync(0xffffffffu, v, mask);
  out[threadIdx.x] = v;  // every lane holds its warp's total
}

__global__ void count_with_atomics(int* counter, float* total) {
  atomicAdd(counter, 1);
  atomicAdd(total, 0.5f);
}

// Threads past n return before the barrier; the others must still get through it.
__global__ void early_return_then_sync(int n, int* out) {
  __shared__ int seen[64];
  const int t = threadIdx.x;
  if (t >= n) return;
  seen[t] = t;
  __syncthreads();
  out[t] = seen[(t + 1) % n];
}

__global__ void reverse_in_dynamic_shared(const float* x, float* out) {
  SSL_DYNAMIC_SHARED(float, tile);
  tile[threadIdx.x] = x[threadIdx.x];
  __syncthreads();
  out[threadIdx.x] = tile[blockDim.x - 1 - threadIdx.x];
}

// Two rounds through one shared slot per warp, every thread reading every slot: a round needs a barrier
// between the writes and the reads (ReadBarrier), and one before the next round's writes, so that no warp
// overwrites a slot another warp has still to read (WriteBarrier). Each thread's total is 36 + 72 = 108.
// The __syncwarp stands for the warp-level work (shuffles) that usually comes first: it orders nothing
// between warps, but it lets the emulation's threads all finish the first round's reads before any writes
// the second's, unless whole warps are run ahead of the others.
template <bool WriteBarrier, bool ReadBarrier>
__global__ void two_rounds(int* out) {
  __shared__ int slot[8];
  const int t = threadIdx.x, warp = t / 32;
  int total = 0;
  for (int round = 1; round <= 2; ++round) {
    if (WriteBarrier) __syncthreads();
    __syncwarp();
    if (t % 32 == 0) slot[warp] = round * (warp + 1);
    if (ReadBarrier) __syncthreads();
    for (int w = 0; w < 8; ++w) total += slot[w];
  }
  out[t] = total;
}

// Lane 0 waits for its warp while the others wait for the block: neither barrier can ever complete.
__global__ void divergent_barriers(int* out) {
  if (threadIdx.x == 0)
    __syncwarp();
  else
    __syncthreads();
  out[threadIdx.x] = 1;
}

}  // namespace

TEST_CASE("simt: every thread of every block runs once, with its own coordinates") {
  const dim3 grid(3, 2, 2), block(4, 2, 3);
  const int n = 12 * 24;
  std::vector<int> out(n, -1);
  launch(write_coordinates, grid, block, 0, out.data());
  for (int b = 0; b < 12; ++b)
    for (int t = 0; t < 24; ++t) CHECK(out[b * 24 + t] == b * 1000 + t);
}

TEST_CASE("launch sizes: a grid-stride grid is capped, a one-item-per-thread grid covers every item") {
  using kernels::cuda_emulated::blocks_covering;
  using kernels::cuda_emulated::blocks_for;
  const int64_t items = 65535LL * 256 + 1;  // one past what 65,535 blocks of 256 threads hold
  CHECK(blocks_for(items, 256) == 65535u);  // the kernel loops over the rest
  CHECK(blocks_covering(items, 256) == 65536u);
  CHECK(blocks_covering(1, 256) == 1u);
  CHECK(blocks_covering(0, 256) == 1u);
  CHECK_THROWS_AS(blocks_covering(int64_t(1) << 40, 256), Error);
}

TEST_CASE("simt: shared memory, __syncthreads and __shfl_down_sync give exact block sums") {
  const int blocks = 5;
  std::vector<float> x(blocks * 256);
  std::iota(x.begin(), x.end(), 0.0f);
  std::vector<float> sums(blocks, -1.0f);
  launch(block_sums, blocks, 256, 0, x.data(), sums.data());
  for (int b = 0; b < blocks; ++b) {
    const double first = b * 256.0, last = first + 255;
    CHECK(sums[b] == doctest::Approx((first + last) * 128));
  }
}

TEST_CASE("simt: a missing __syncthreads gives wrong results, whichever way its hazard goes") {
  const auto wrong = [](void (*kernel)(int*)) {
    std::vector<int> out(256, -1);
    launch(kernel, 1, 256, 0, out.data());
    return std::count_if(out.begin(), out.end(), [](int v) { return v != 108; });
  };
  CHECK(wrong(two_rounds<true, true>) == 0);
  CHECK(wrong(two_rounds<true, false>) > 0);  // reads slots other warps have not written yet
  CHECK(wrong(two_rounds<false, true>) > 0);  // a warp overwrites slots other warps have not read yet
}

TEST_CASE("simt: __shfl_xor_sync butterflies sum each warp separately") {
  std::vector<int> x(64), out(64, -1);
  std::iota(x.begin(), x.end(), 1);
  launch(butterfly, 1, 64, 0, x.data(), out.data());
  for (int t = 0; t < 32; ++t) CHECK(out[t] == 32 * 33 / 2);
  for (int t = 32; t < 64; ++t) CHECK(out[t] == (64 * 65 - 32 * 33) / 2);
}

TEST_CASE("simt: atomics from every thread of every block add up") {
  int counter = 0;
  float total = 0;
  launch(count_with_atomics, 7, 96, 0, &counter, &total);
  CHECK(counter == 7 * 96);
  CHECK(total == doctest::Approx(7 * 96 * 0.5));
}

TEST_CASE("simt: threads that return early do not hold up __syncthreads") {
  std::vector<int> out(64, -1);
  launch(early_return_then_sync, 1, 64, 0, 40, out.data());
  for (int t = 0; t < 40; ++t) CHECK(out[t] == (t + 1) % 40);
  for (int t = 40; t < 64; ++t) CHECK(out[t] == -1);
}

TEST_CASE("simt: dynamic shared memory holds the launch's shared_bytes") {
  std::vector<float> x(128), out(128, -1);
  std::iota(x.begin(), x.end(), 0.0f);
  launch(reverse_in_dynamic_shared, 1, 128, 128 * sizeof(float), x.data(), out.data());
  for (int t = 0; t < 128; ++t) CHECK(out[t] == 127 - t);
  // A GPU refuses more than 48 KB unless the kernel opts in (none of ours does): so does the emulation.
  CHECK_THROWS_WITH_AS(launch(reverse_in_dynamic_shared, 1, 128, 48 * 1024 + 4, x.data(), out.data()),
                       doctest::Contains("over the 48 KB"), ssl::Error);
}

TEST_CASE("simt: a block over 1024 threads is refused with a clear error") {
  std::vector<int> out(2048);
  CHECK_THROWS_WITH_AS(launch(write_coordinates, 1, 2048, 0, out.data()),
                       doctest::Contains("1 to 1024 threads"), ssl::Error);
}

TEST_CASE("simt: barriers that can never complete are an error, and the next launch runs normally") {
  std::vector<int> out(32, 0);
  CHECK_THROWS_WITH_AS(launch(divergent_barriers, 1, 32, 0, out.data()),
                       doctest::Contains("wait at a barrier that the others never reach"), ssl::Error);
  CHECK(std::count(out.begin(), out.end(), 1) == 0);
  std::vector<int> coords(2 * 64, -1);
  launch(write_coordinates, 2, 64, 0, coords.data());
  for (int i = 0; i < 2 * 64; ++i) CHECK(coords[i] == (i / 64) * 1000 + i % 64);
}
