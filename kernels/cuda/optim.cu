// Fused optimizer steps: SGD (momentum, Nesterov, weight decay), Adam, AdamW, LARS, and Σx² (contracts in
// kernels/cuda/optim.h; the per-element updates in kernels/common/optim_update.h).
//
// One version each. SGD, Adam and AdamW are one grid-stride pass: every element's parameter, gradient and
// state are read once and written once (AdamW folds its decay p·(1 − lr·wd) into the same pass, where the
// CPU makes two). LARS needs ‖p‖ and ‖g + wd·p‖ before it can update anything, so it makes two passes over
// memory in three launches:
//   1. partial sums Σp², Σg², Σg·p in double, one per block (a fixed grid that depends on n only; within the
//      block the fixed order of block_sum), into a small scratch buffer;
//   2. one block sums the ≤ 256 partials in a fixed order and stores the trust ratio on the device;
//   3. the update pass reads the trust ratio (no host round trip anywhere).
// sum_of_squares is stage 1 followed by a one-block kernel that sums the partials into *out. Being fixed
// trees, both reductions give the same bits on every run (not float atomics, whose order varies).
//
// The floor, for a typical step (ResNet-18, 11.7 M float parameters, all in one call's worth of work):
//   SGD with momentum: read p, g, buf, write p, buf = 5 × 4 B × 11.7 M = 234 MB → 78 µs at 3 TB/s; ~4 flop
//   per element (47 M flop, under 1 µs at 60 TFLOP/s). Adam/AdamW: read p, g, m, v, write p, m, v = 7 × 4 B
//   → 328 MB, 109 µs; ~15 flop incl. a sqrt and a division per element, still far below the memory time.
//   LARS: the norm pass reads p, g (94 MB, 31 µs) before the SGD-like pass (234 MB, 78 µs).
// Every one is memory-bound; fusing the update into one pass is what gets it to the floor.
#include <cmath>

#include "kernels/common/optim_update.h"
#include "kernels/cuda/kernel.cuh"
#include "kernels/cuda/optim.h"
#include "kernels/cuda/scratch.cuh"

namespace ssl::kernels::SSL_CUDA_NS {

namespace {

constexpr int kThreads = 256;
constexpr int kMaxBlocks = 256;  // partial sums per reduction: at most one per thread of the final sum

__device__ __forceinline__ int64_t first_index() { return blockIdx.x * int64_t(blockDim.x) + threadIdx.x; }
__device__ __forceinline__ int64_t grid_stride() { return int64_t(gridDim.x) * blockDim.x; }

// Sums Q values over the block's kThreads threads in a fixed order and returns the sums to every thread:
// through shared memory `s`, lane l of warp 0 adds the values of threads l, l + 32, l + 64, ... in turn, then
// a shuffle tree within warp 0 adds the 32 lanes. Two block-wide barriers, whatever kThreads is.
template <int Q>
__device__ void block_sum(double (&v)[Q], double (*s)[kThreads]) {
  const int t = int(threadIdx.x);
  for (int q = 0; q < Q; ++q) s[q][t] = v[q];
  __syncthreads();
  if (t < 32) {
    for (int q = 0; q < Q; ++q) {
      double sum = 0;
      for (int i = t; i < kThreads; i += 32) sum += s[q][i];
      for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_down_sync(0xffffffffu, sum, offset);
      if (t == 0) s[q][0] = sum;  // lane 0 read s[q][0] before the shuffles, so it may overwrite it now
    }
  }
  __syncthreads();
  for (int q = 0; q < Q; ++q) v[q] = s[q][0];
  __syncthreads();  // s may be reused by the caller
}

// Stage 1: partials[q·gridDim.x + block] = the block's share of quantity q (LARS: Σp², Σg², Σg·p; else Σp²).
template <class T, int Q>
__global__ void partial_sums_kernel(int64_t n, const T* p, const T* g, double* partials) {
  __shared__ double s[Q][kThreads];
  double acc[Q] = {};
  for (int64_t i = first_index(); i < n; i += grid_stride()) {
    const double pi = double(p[i]);
    acc[0] += pi * pi;
    if constexpr (Q == 3) {
      const double gi = double(g[i]);
      acc[1] += gi * gi;
      acc[2] += gi * pi;
    }
  }
  block_sum<Q>(acc, s);
  if (threadIdx.x == 0)
    for (int q = 0; q < Q; ++q) partials[q * gridDim.x + blockIdx.x] = acc[q];
}

unsigned reduction_blocks(int64_t n) { return blocks_for(n, kThreads, kMaxBlocks); }

// Stage 2 of sum_of_squares: one block adds the `blocks` partials.
__global__ void total_kernel(const double* partials, int blocks, double* out) {
  __shared__ double s[1][kThreads];
  double v[1] = {int(threadIdx.x) < blocks ? partials[threadIdx.x] : 0.0};
  block_sum<1>(v, s);
  if (threadIdx.x == 0) *out = v[0];
}

template <class T>
__global__ void sgd_kernel(int64_t n, T* p, const T* g, T* buf, T lr, T momentum, T weight_decay,
                           bool nesterov, bool first_step) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) {
    T b = momentum != T(0) ? buf[i] : T(0);  // buf is not read (nor needed) without momentum
    T pi = p[i];
    optim::sgd_update(pi, g[i], b, lr, momentum, weight_decay, nesterov, first_step);
    p[i] = pi;
    if (momentum != T(0)) buf[i] = b;
  }
}

// Adam, with AdamW's decoupled decay p·shrink applied first (shrink = 1 for plain Adam).
template <class T>
__global__ void adam_kernel(int64_t n, T* p, const T* g, T* m, T* v, T lr, T beta1, T beta2, T eps,
                            T weight_decay, T shrink, T c1, T c2) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) {
    T pi = p[i] * shrink, mi = m[i], vi = v[i];
    optim::adam_update(pi, g[i], mi, vi, lr, beta1, beta2, eps, weight_decay, c1, c2);
    p[i] = pi;
    m[i] = mi;
    v[i] = vi;
  }
}

// Stage 2 of LARS: one block adds the 3 × `blocks` partials and stores the trust ratio (as a double, exactly)
// after them.
template <class T>
__global__ void lars_trust_kernel(double* partials, int blocks, T wd, T eta) {
  __shared__ double s[3][kThreads];
  const int t = int(threadIdx.x);
  double sums[3];
  for (int q = 0; q < 3; ++q) sums[q] = t < blocks ? partials[q * blocks + t] : 0.0;
  block_sum<3>(sums, s);
  if (t == 0) partials[3 * blocks] = double(optim::lars_trust<T>(sums[0], sums[1], sums[2], wd, eta));
}

// The LARS update with the trust ratio at *trust (1 when trust is null: a tensor excluded from adaptation).
template <class T>
__global__ void lars_kernel(int64_t n, T* p, const T* g, T* buf, const double* trust, T lr, T momentum, T wd,
                            bool nesterov) {
  const T scaled = lr * (trust != nullptr ? T(*trust) : T(1));
  for (int64_t i = first_index(); i < n; i += grid_stride()) {
    T pi = p[i], bi = buf[i];
    optim::lars_update(pi, g[i], bi, scaled, momentum, wd, nesterov);
    p[i] = pi;
    buf[i] = bi;
  }
}

template <class T>
void adam_like(int64_t n, T* p, const T* g, T* m, T* v, T lr, T beta1, T beta2, T eps, T weight_decay,
               T shrink, int64_t t) {
  if (n == 0) return;
  // The bias corrections as the CPU computes them, in T.
  const T c1 = T(1) - std::pow(beta1, T(t)), c2 = T(1) - std::pow(beta2, T(t));
  launch(adam_kernel<T>, blocks_for(n, kThreads), kThreads, 0, n, p, g, m, v, lr, beta1, beta2, eps,
         weight_decay, shrink, c1, c2);
}

}  // namespace

template <class T>
void sgd_step(int64_t n, T* p, const T* g, T* buf, T lr, T momentum, T weight_decay, bool nesterov,
              bool first_step) {
  if (n == 0) return;
  launch(sgd_kernel<T>, blocks_for(n, kThreads), kThreads, 0, n, p, g, buf, lr, momentum, weight_decay,
         nesterov, first_step);
}

template <class T>
void adam_step(int64_t n, T* p, const T* g, T* m, T* v, T lr, T beta1, T beta2, T eps, T weight_decay,
               int64_t t) {
  adam_like(n, p, g, m, v, lr, beta1, beta2, eps, weight_decay, T(1), t);
}

template <class T>
void adamw_step(int64_t n, T* p, const T* g, T* m, T* v, T lr, T beta1, T beta2, T eps, T weight_decay,
                int64_t t) {
  adam_like(n, p, g, m, v, lr, beta1, beta2, eps, T(0), T(1) - lr * weight_decay, t);
}

template <class T>
void lars_step(int64_t n, T* p, const T* g, T* buf, T lr, T momentum, T weight_decay, T eta, bool adapt,
               bool nesterov) {
  if (n == 0) return;
  const unsigned grid = blocks_for(n, kThreads);
  if (!adapt) {
    launch(lars_kernel<T>, grid, kThreads, 0, n, p, g, buf, static_cast<const double*>(nullptr), lr, momentum,
           T(0), nesterov);
    return;
  }
  const unsigned blocks = reduction_blocks(n);
  DeviceScratch<double> partials(3 * int64_t(blocks) + 1);  // the partial sums, then the trust ratio
  launch(partial_sums_kernel<T, 3>, blocks, kThreads, 0, n, static_cast<const T*>(p), g, partials.get());
  launch(lars_trust_kernel<T>, 1, kThreads, 0, partials.get(), int(blocks), weight_decay, eta);
  launch(lars_kernel<T>, grid, kThreads, 0, n, p, g, buf,
         static_cast<const double*>(partials.get() + 3 * blocks), lr, momentum, weight_decay, nesterov);
}

template <class T>
void sum_of_squares(int64_t n, const T* x, double* out) {
  const unsigned blocks = reduction_blocks(n);
  DeviceScratch<double> partials(blocks);
  launch(partial_sums_kernel<T, 1>, blocks, kThreads, 0, n, x, x, partials.get());
  launch(total_kernel, 1, kThreads, 0, static_cast<const double*>(partials.get()), int(blocks), out);
}

#define SSL_INSTANTIATE(T)                                                            \
  template void sgd_step<T>(int64_t, T*, const T*, T*, T, T, T, bool, bool);          \
  template void adam_step<T>(int64_t, T*, const T*, T*, T*, T, T, T, T, T, int64_t);  \
  template void adamw_step<T>(int64_t, T*, const T*, T*, T*, T, T, T, T, T, int64_t); \
  template void lars_step<T>(int64_t, T*, const T*, T*, T, T, T, T, bool, bool);      \
  template void sum_of_squares<T>(int64_t, const T*, double*);
SSL_INSTANTIATE(float)
SSL_INSTANTIATE(double)
#undef SSL_INSTANTIATE

}  // namespace ssl::kernels::SSL_CUDA_NS
