// The host emulation's runtime: how a launch runs its blocks and threads (see simt.h for the model).
//
// The threads of a block are fibers (ucontext) on the launching host thread, not OS threads. A fiber runs
// until it waits at a barrier or returns; a scheduler loop then resumes the next one (warp by warp, below). A
// barrier costs two context switches per thread instead of waking every thread through the OS, which on a
// two-core machine made an emulated __syncthreads of 256 threads milliseconds long. One host thread also
// makes atomics and shared memory trivially consistent, and a barrier that some thread never reaches (a
// __syncthreads in divergent code, undefined on a GPU) is reported as an error instead of hanging.
#include "kernels/cuda/simt/simt.h"

#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

#include "core/error.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SSL_SIMT_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SSL_SIMT_ASAN 1
#endif
#ifdef SSL_SIMT_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

namespace ssl::simt {

namespace {

// Bytes of each fiber's stack (kernels keep a few registers' worth of locals; the sanitizers' frames are
// larger), and a guard page below it so that an overflow faults instead of corrupting a neighbour.
constexpr size_t kStackBytes = size_t(256) << 10;

class FiberStack {
 public:
  FiberStack() {
    page_ = size_t(sysconf(_SC_PAGESIZE));
    base_ = mmap(nullptr, kStackBytes + page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    SSL_CHECK(base_ != MAP_FAILED, "simt: could not map a ", kStackBytes, "-byte fiber stack");
    mprotect(base_, page_, PROT_NONE);  // the stack grows down towards the guard page
  }
  ~FiberStack() { munmap(base_, kStackBytes + page_); }
  FiberStack(const FiberStack&) = delete;
  FiberStack& operator=(const FiberStack&) = delete;
  void* bottom() const { return static_cast<char*>(base_) + page_; }

 private:
  void* base_ = nullptr;
  size_t page_ = 0;
};

struct Fiber {
  ucontext_t context{};
  FiberStack* stack = nullptr;
  bool done = false;
  // The built-in variables are host-thread-local and every fiber shares the host thread: each fiber's own
  // values are put back whenever it resumes.
  uint3 thread_idx, block_idx;
#ifdef SSL_SIMT_ASAN
  void* fake_stack = nullptr;
#endif
};

struct LaunchState;
thread_local LaunchState* current = nullptr;
thread_local int linear_thread = 0;

void yield_to_scheduler();

// A reusable barrier whose party count shrinks when a thread returns from the kernel, so the threads that
// are still running do not wait for it at their next __syncthreads (a returned GPU thread counts as arrived).
// `on_release` runs once per generation, before anyone passes.
class Barrier {
 public:
  void reset(int parties) {
    parties_ = parties;
    arrived_ = 0;
  }
  void arrive_and_wait(uint64_t& progress, const std::function<void()>& on_release = {}) {
    const uint64_t generation = generation_;
    ++progress;
    if (++arrived_ == parties_) {
      release(on_release);
      return;
    }
    while (generation_ == generation) yield_to_scheduler();
  }
  void leave() {
    --parties_;
    if (arrived_ > 0 && arrived_ == parties_) release({});
  }

 private:
  void release(const std::function<void()>& on_release) {
    arrived_ = 0;
    ++generation_;
    if (on_release) on_release();
  }
  int parties_ = 0, arrived_ = 0;
  uint64_t generation_ = 0;
};

struct Warp {
  Barrier barrier;
  uint64_t offered[32] = {};
  int size = 0;  // lanes in this warp (the last warp of a block may be partial)
};

struct LaunchState {
  dim3 grid, block;
  int threads = 0;
  int64_t blocks = 0;
  const std::function<void()>* body = nullptr;
  Barrier block_barrier, end_of_block;
  std::vector<std::unique_ptr<Warp>> warps;
  std::vector<unsigned char> dynamic_shared;
  std::vector<Fiber> fibers;
  ucontext_t scheduler{};
  int running = -1;       // the fiber being run
  uint64_t progress = 0;  // counts barrier arrivals and kernel returns: a round without any is a deadlock
  std::exception_ptr error;
#ifdef SSL_SIMT_ASAN
  const void* scheduler_stack = nullptr;
  size_t scheduler_stack_size = 0;
#endif

  void reset_barriers() {
    block_barrier.reset(threads);
    for (auto& w : warps) w->barrier.reset(w->size);
  }
};

LaunchState& state() {
  SSL_CHECK(current != nullptr, "simt: a device function was called outside a kernel launch");
  return *current;
}

// ---- switching between the scheduler and the fibers (with AddressSanitizer told about each stack switch)

void enter_fiber(LaunchState& s, int t) {
  Fiber& f = s.fibers[size_t(t)];
  s.running = t;
  linear_thread = t;
  threadIdx = f.thread_idx;
  blockIdx = f.block_idx;
#ifdef SSL_SIMT_ASAN
  void* fake = nullptr;
  __sanitizer_start_switch_fiber(&fake, f.stack->bottom(), kStackBytes);
  swapcontext(&s.scheduler, &f.context);
  __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#else
  swapcontext(&s.scheduler, &f.context);
#endif
  s.running = -1;
}

void leave_fiber(LaunchState& s, Fiber& f, bool for_good) {
  f.thread_idx = threadIdx;
  f.block_idx = blockIdx;
#ifdef SSL_SIMT_ASAN
  __sanitizer_start_switch_fiber(for_good ? nullptr : &f.fake_stack, s.scheduler_stack,
                                 s.scheduler_stack_size);
  swapcontext(&f.context, &s.scheduler);
  __sanitizer_finish_switch_fiber(f.fake_stack, nullptr, nullptr);
#else
  (void)for_good;
  swapcontext(&f.context, &s.scheduler);
#endif
  // Resumed by enter_fiber, which has put this fiber's built-in variables back.
}

void yield_to_scheduler() {
  LaunchState& s = state();
  leave_fiber(s, s.fibers[size_t(s.running)], false);
}

// Each fiber runs the kernel for every block in turn, like the thread of a block that is reused.
void fiber_main() {
  LaunchState& s = *current;
  const int t = s.running;
  Fiber& f = s.fibers[size_t(t)];
#ifdef SSL_SIMT_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &s.scheduler_stack, &s.scheduler_stack_size);
#endif
  try {
    threadIdx = {unsigned(t % s.block.x), unsigned(t / s.block.x % s.block.y),
                 unsigned(t / (s.block.x * s.block.y))};
    for (int64_t b = 0; b < s.blocks && !s.error; ++b) {
      blockIdx = {unsigned(b % s.grid.x), unsigned(b / s.grid.x % s.grid.y),
                  unsigned(b / (int64_t(s.grid.x) * s.grid.y))};
      (*s.body)();
      ++s.progress;
      s.block_barrier.leave();
      s.warps[size_t(t / 32)]->barrier.leave();
      // Between blocks every thread waits here; the release re-arms the barriers for the next block.
      s.end_of_block.arrive_and_wait(s.progress, [&s] { s.reset_barriers(); });
    }
  } catch (...) {
    if (!s.error) s.error = std::current_exception();
  }
  f.done = true;
  leave_fiber(s, f, true);  // never resumed
}

// Points a fiber at the start of fiber_main on `stack`. Out of line: getcontext returns twice in the
// compiler's eyes, which would have it warn about every variable of a caller's loop.
[[gnu::noinline]] void start_fiber(Fiber& f, FiberStack* stack) {
  f.stack = stack;
  getcontext(&f.context);
  f.context.uc_stack.ss_sp = stack->bottom();
  f.context.uc_stack.ss_size = kStackBytes;
  f.context.uc_link = nullptr;  // fiber_main never returns: it switches back for good
  makecontext(&f.context, fiber_main, 0);
}

// Fiber stacks kept between launches: mapping up to 1024 of them for every launch would cost more than most
// emulated kernels' work.
std::vector<std::unique_ptr<FiberStack>>& stack_pool() {
  static std::vector<std::unique_ptr<FiberStack>> pool;
  return pool;
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
  SSL_CHECK(dynamic_shared_bytes <= 48 * 1024, "simt launch: ", dynamic_shared_bytes,
            " bytes of dynamic shared memory, over the 48 KB a kernel gets without opting in to more");
  if (blocks == 0) return;
  std::lock_guard<std::mutex> serial(launch_mutex());

  LaunchState s;
  s.grid = grid;
  s.block = block;
  s.threads = int(threads);
  s.blocks = blocks;
  s.body = &body;
  for (int first = 0; first < s.threads; first += 32) {
    s.warps.push_back(std::make_unique<Warp>());
    s.warps.back()->size = std::min(32, s.threads - first);
  }
  s.dynamic_shared.assign(dynamic_shared_bytes, 0xA5);  // not zero: kernels must not rely on zeroed memory
  s.reset_barriers();
  s.end_of_block.reset(s.threads);

  auto& pool = stack_pool();
  while (int(pool.size()) < s.threads) pool.push_back(std::make_unique<FiberStack>());
  s.fibers.resize(size_t(s.threads));
  for (int t = 0; t < s.threads; ++t) start_fiber(s.fibers[size_t(t)], pool[size_t(t)].get());

  current = &s;
  blockDim = block;
  gridDim = grid;
  int remaining = s.threads;
  // A pass runs the warps one at a time, each as far as it gets on its own: its lanes are resumed until none
  // of them moves, that is until they all wait at a __syncthreads or have returned. On a GPU one warp may
  // run ahead of the others up to the next block barrier, and this is the furthest it can go. Passes take
  // the warps in ascending and descending order by turns, so between two barriers one warp runs first and
  // between the next two another: a missing __syncthreads gives a wrong result whichever way its hazard
  // goes, a read of what another warp has not written yet or a write over what another warp has not read.
  const int warps = int(s.warps.size());
  for (int pass = 0; remaining > 0; ++pass) {
    const uint64_t before = s.progress;
    for (int k = 0; k < warps && !s.error; ++k) {
      const int w = pass % 2 == 0 ? k : warps - 1 - k;
      for (uint64_t warp_before = ~uint64_t(0); warp_before != s.progress && !s.error;) {
        warp_before = s.progress;
        for (int t = 32 * w; t < std::min(32 * w + 32, s.threads); ++t) {
          if (s.fibers[size_t(t)].done) continue;
          enter_fiber(s, t);
          if (s.fibers[size_t(t)].done) --remaining;
        }
      }
    }
    if (remaining > 0 && (s.progress == before || s.error)) break;  // nobody moved: a deadlock, or an error
  }
  current = nullptr;
  if (s.error) std::rethrow_exception(s.error);
  // Fibers still waiting are abandoned: their stacks are reused by the next launch.
  SSL_CHECK(remaining == 0, "simt launch: ", remaining, " of the block's ", s.threads,
            " threads wait at a barrier that the others never reach (a __syncthreads or warp shuffle in "
            "divergent code)");
}

void sync_block() {
  LaunchState& s = state();
  s.block_barrier.arrive_and_wait(s.progress);
}

void sync_warp() {
  LaunchState& s = state();
  s.warps[size_t(linear_thread / 32)]->barrier.arrive_and_wait(s.progress);
}

int lane() { return linear_thread % 32; }

uint64_t exchange_in_warp(uint64_t bits, int source) {
  Warp& w = *state().warps[linear_thread / 32];
  const int me = lane();
  uint64_t& progress = state().progress;
  w.offered[me] = bits;
  w.barrier.arrive_and_wait(progress);  // every lane has offered
  const uint64_t got = (source >= 0 && source < w.size) ? w.offered[source] : bits;
  w.barrier.arrive_and_wait(progress);  // every lane has read before anyone offers again
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
