// The host emulation's runtime: how a launch runs its blocks and threads (see simt.h for the model).
#include "kernels/cuda/simt/simt.h"

#include <barrier>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include "core/error.h"

namespace ssl::simt {

namespace {

// A reusable barrier whose party count shrinks when a thread returns from the kernel, so the threads that
// are still running do not wait for it at their next __syncthreads (a returned GPU thread counts as arrived).
class ShrinkingBarrier {
 public:
  void reset(int parties) {
    std::lock_guard<std::mutex> lock(mu_);
    parties_ = parties;
    arrived_ = 0;
  }
  void arrive_and_wait() {
    std::unique_lock<std::mutex> lock(mu_);
    const uint64_t generation = generation_;
    if (++arrived_ == parties_) {
      release();
      return;
    }
    cv_.wait(lock, [&] { return generation_ != generation; });
  }
  void leave() {
    std::lock_guard<std::mutex> lock(mu_);
    --parties_;
    if (arrived_ > 0 && arrived_ == parties_) release();
  }

 private:
  void release() {  // with mu_ held
    arrived_ = 0;
    ++generation_;
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  int parties_ = 0, arrived_ = 0;
  uint64_t generation_ = 0;
};

struct Warp {
  ShrinkingBarrier barrier;
  uint64_t offered[32] = {};
  int size = 0;  // lanes in this warp (the last warp of a block may be partial)
};

struct LaunchState {
  dim3 grid, block;
  int threads = 0;
  ShrinkingBarrier block_barrier;
  std::vector<std::unique_ptr<Warp>> warps;
  std::vector<unsigned char> dynamic_shared;

  void reset_barriers() {
    block_barrier.reset(threads);
    for (auto& w : warps) w->barrier.reset(w->size);
  }
};

thread_local LaunchState* current = nullptr;
thread_local int linear_thread = 0;

LaunchState& state() {
  SSL_CHECK(current != nullptr, "simt: a device function was called outside a kernel launch");
  return *current;
}

// Host threads kept between launches: starting up to 1024 threads for every launch would cost more than
// most emulated kernels' work. run(n, job) calls job(t) on threads 0..n-1 and returns when all are done.
class ThreadPool {
 public:
  void run(int n, const std::function<void(int)>& job) {
    std::unique_lock<std::mutex> lock(mu_);
    while (int(threads_) < n) {
      std::thread(&ThreadPool::serve, this, threads_++).detach();  // the pool lives as long as the process
    }
    job_ = &job;
    active_ = n;
    pending_ = n;
    ++generation_;
    start_.notify_all();
    finished_.wait(lock, [&] { return pending_ == 0; });
    job_ = nullptr;
  }

 private:
  void serve(int id) {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      start_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      if (id >= active_) continue;  // this launch has fewer threads
      const std::function<void(int)>* job = job_;
      lock.unlock();
      (*job)(id);
      lock.lock();
      if (--pending_ == 0) finished_.notify_one();
    }
  }

  std::mutex mu_;
  std::condition_variable start_, finished_;
  const std::function<void(int)>* job_ = nullptr;
  int threads_ = 0, active_ = 0, pending_ = 0;
  uint64_t generation_ = 0;
};

ThreadPool& thread_pool() {
  static ThreadPool* pool = new ThreadPool();  // never destroyed: its threads never exit
  return *pool;
}

std::mutex& launch_mutex() {
  static std::mutex mu;
  return mu;
}

}  // namespace

void launch(dim3 grid, dim3 block, size_t dynamic_shared_bytes, const std::function<void()>& body) {
  const int64_t threads = int64_t(block.x) * block.y * block.z;
  const int64_t blocks = int64_t(grid.x) * grid.y * grid.z;
  SSL_CHECK(threads >= 1 && threads <= 1024, "simt launch: a block needs 1 to 1024 threads, got ", block.x,
            "x", block.y, "x", block.z);
  SSL_CHECK(block.z <= 64 && grid.y <= 65535 && grid.z <= 65535,
            "simt launch: grid or block dimension over CUDA's limits (grid ", grid.x, "x", grid.y, "x",
            grid.z, ", block ", block.x, "x", block.y, "x", block.z, ")");
  if (blocks == 0) return;
  std::lock_guard<std::mutex> serial(launch_mutex());

  LaunchState s;
  s.grid = grid;
  s.block = block;
  s.threads = int(threads);
  for (int first = 0; first < s.threads; first += 32) {
    s.warps.push_back(std::make_unique<Warp>());
    s.warps.back()->size = std::min(32, s.threads - first);
  }
  s.dynamic_shared.assign(dynamic_shared_bytes, 0xA5);  // not zero: kernels must not rely on zeroed memory
  s.reset_barriers();
  // Between blocks every thread waits here; the completion step re-arms the barriers for the next block.
  std::barrier<std::function<void()>> end_of_block(s.threads,
                                                   std::function<void()>([&s] { s.reset_barriers(); }));

  const std::function<void(int)> thread_main = [&](int t) {
    current = &s;
    linear_thread = t;
    threadIdx = {unsigned(t % block.x), unsigned(t / block.x % block.y), unsigned(t / (block.x * block.y))};
    blockDim = block;
    gridDim = grid;
    for (int64_t b = 0; b < blocks; ++b) {
      blockIdx = {unsigned(b % grid.x), unsigned(b / grid.x % grid.y),
                  unsigned(b / (int64_t(grid.x) * grid.y))};
      body();
      s.block_barrier.leave();
      s.warps[t / 32]->barrier.leave();
      end_of_block.arrive_and_wait();
    }
    current = nullptr;
  };
  thread_pool().run(s.threads, thread_main);
}

void sync_block() { state().block_barrier.arrive_and_wait(); }

void sync_warp() { state().warps[linear_thread / 32]->barrier.arrive_and_wait(); }

int lane() { return linear_thread % 32; }

uint64_t exchange_in_warp(uint64_t bits, int source) {
  Warp& w = *state().warps[linear_thread / 32];
  const int me = lane();
  w.offered[me] = bits;
  w.barrier.arrive_and_wait();  // every lane has offered
  const uint64_t got = (source >= 0 && source < w.size) ? w.offered[source] : bits;
  w.barrier.arrive_and_wait();  // every lane has read before anyone offers again
  return got;
}

void* dynamic_shared_memory() { return state().dynamic_shared.data(); }

}  // namespace ssl::simt

// ---- the runtime API on host memory -----------------------------------------------------------------------

cudaError_t cudaMalloc(void** ptr, size_t nbytes) {
  // Exactly the bytes asked for, so AddressSanitizer catches a kernel that reads
  // or writes past its buffer.
  *ptr = ::operator new (std::max<size_t>(nbytes, 1), std::align_val_t{256}, std::nothrow);
  return *ptr ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFree(void* ptr) {
  if (ptr) ::operator delete (ptr, std::align_val_t{256});
  return cudaSuccess;
}
cudaError_t cudaMemcpy(void* dst, const void* src, size_t nbytes, cudaMemcpyKind) {
  if (nbytes) std::memcpy(dst, src, nbytes);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t nbytes, cudaMemcpyKind kind, cudaStream_t) {
  return cudaMemcpy(dst, src, nbytes, kind);
}
cudaError_t cudaMemset(void* ptr, int value, size_t nbytes) {
  if (nbytes) std::memset(ptr, value, nbytes);
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* ptr, int value, size_t nbytes, cudaStream_t) {
  return cudaMemset(ptr, value, nbytes);
}
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaGetLastError() { return cudaSuccess; }
const char* cudaGetErrorString(cudaError_t error) {
  return error == cudaSuccess                 ? "no error"
         : error == cudaErrorMemoryAllocation ? "out of memory"
                                              : "invalid value";
}
