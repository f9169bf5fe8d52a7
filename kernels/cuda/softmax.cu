// The softmax family on the GPU (contracts in kernels/cuda/softmax.h): softmax, log-softmax,
// cross-entropy and L2 normalisation, forward and backward.
//
// One version each. A row is handled by a "row group": one warp for rows of up to 1024 columns (8 rows per
// 256-thread block), one whole block for longer rows, so that short rows do not leave 224 of 256 threads
// idle and long rows still spread over many threads. A group reads its row with a stride of its size
// (coalesced), reduces with warp shuffles (and shared memory across warps), then writes the row. The
// second and third passes over a row hit L1/L2: DRAM sees each element about once.
//
// Cost, typical shape softmax forward on [4096, 1000] floats: 16.4 MB read + 16.4 MB written, ~5 flops and
// one exp per element (20 MFLOP). Memory-bound: the floor on an H100 is 32.8 MB / 3 TB/s = 11 µs (the
// flops would take 0.3 µs at 60 TFLOP/s). Backward reads two matrices and writes one: 49 MB, 16 µs.
// Cross-entropy forward reads the logits once (plus the targets) and writes one lse per row.
#include "kernels/common/logsumexp.h"
#include "kernels/common/scalar_math.h"
#include "kernels/cuda/kernel.cuh"
#include "kernels/cuda/reduce_block.cuh"
#include "kernels/cuda/scratch.cuh"
#include "kernels/cuda/softmax.h"

namespace ssl::kernels::SSL_CUDA_NS {
namespace {

constexpr int kThreads = 256;
constexpr int kRowsPerWarpBlock = kThreads / 32;
constexpr int64_t kWarpRowMaxCols = 1024;

// The threads that share one row: a warp (kWarp) or the whole block. `valid` is false for the warps of
// the last block that have no row (warp mode only); such a group must skip its row but may not leave a
// kernel that synchronises the block afterwards.
template <bool kWarp>
struct RowGroup {
  int64_t row;
  int rank, size;
  bool valid;

  __device__ explicit RowGroup(int64_t rows) {
    if (kWarp) {
      row = int64_t(blockIdx.x) * kRowsPerWarpBlock + threadIdx.x / 32;
      rank = int(threadIdx.x % 32);
      size = 32;
    } else {
      row = blockIdx.x;
      rank = int(threadIdx.x);
      size = int(blockDim.x);
    }
    valid = row < rows;
  }
  template <class T>
  __device__ T sum(T v) const {
    if constexpr (kWarp) {
      return warp_sum(v);
    } else {
      return block_sum(v);
    }
  }
  template <class T>
  __device__ T max(T v) const {
    if constexpr (kWarp) {
      return warp_max(v);
    } else {
      return block_max(v);
    }
  }
};

bool warp_per_row(int64_t cols) { return cols <= kWarpRowMaxCols; }
unsigned blocks_for_rows(int64_t rows, int64_t cols) {
  return unsigned(warp_per_row(cols) ? (rows + kRowsPerWarpBlock - 1) / kRowsPerWarpBlock : rows);
}

// The log-sum-exp of the group's row (kernels/common/logsumexp.h), returned to every thread of the group.
// As on the CPU, a row whose maximum is not finite keeps it (no exps of inf − inf).
template <class T, bool kWarp>
__device__ lse::Row<T> row_lse(const RowGroup<kWarp>& g, const T* x, int64_t cols) {
  T m = hd::minus_infinity<T>();
  for (int64_t j = g.rank; j < cols; j += g.size) m = hd::max(m, x[j]);
  m = g.max(m);
  if (!hd::is_finite(m)) return {m, T(0)};  // the same for the whole group: the sum below is not split
  T s = 0;
  for (int64_t j = g.rank; j < cols; j += g.size) s += hd::exp(x[j] - m);
  return {m, hd::log(g.sum(s))};
}

template <class T, bool kWarp, bool kLog>
__global__ void softmax_forward_kernel(int64_t rows, int64_t cols, const T* x, T* y) {
  const RowGroup<kWarp> g(rows);
  if (!g.valid) return;
  const T* xr = x + g.row * cols;
  T* yr = y + g.row * cols;
  const lse::Row<T> row = row_lse(g, xr, cols);
  for (int64_t j = g.rank; j < cols; j += g.size)
    yr[j] = kLog ? row.log_prob(xr[j]) : hd::exp(row.log_prob(xr[j]));
}

// softmax: gx = y (g − Σ g y);  log-softmax: gx = g − exp(y) Σ g.
template <class T, bool kWarp, bool kLog>
__global__ void softmax_backward_kernel(int64_t rows, int64_t cols, const T* y, const T* grad, T* gx) {
  const RowGroup<kWarp> g(rows);
  if (!g.valid) return;
  const T *yr = y + g.row * cols, *gr = grad + g.row * cols;
  T acc = 0;
  for (int64_t j = g.rank; j < cols; j += g.size) acc += kLog ? gr[j] : gr[j] * yr[j];
  acc = g.sum(acc);
  T* out = gx + g.row * cols;
  for (int64_t j = g.rank; j < cols; j += g.size)
    out[j] = kLog ? gr[j] - hd::exp(yr[j]) * acc : yr[j] * (gr[j] - acc);
}

// Each row's lse and loss term; each block's terms summed (in row order) into partials[blockIdx.x].
template <class T, bool kWarp>
__global__ void cross_entropy_forward_kernel(int64_t rows, int64_t cols, const T* logits,
                                             const int64_t* targets, T* lse, double* partials) {
  const RowGroup<kWarp> g(rows);
  double term = 0;
  if (g.valid) {
    const T* xr = logits + g.row * cols;
    const lse::Row<T> row = row_lse(g, xr, cols);
    if (g.rank == 0) {
      lse[g.row] = row.max + row.log_sum;
      const int64_t t = targets[g.row];
      term =
          (t >= 0 && t < cols) ? -double(row.log_prob(xr[t])) : double(NAN);  // a bad target poisons the loss
    }
  }
  if constexpr (kWarp) {
    __shared__ double per_row[kRowsPerWarpBlock];
    if (g.rank == 0) per_row[threadIdx.x / 32] = term;
    __syncthreads();
    if (threadIdx.x == 0) {
      double s = 0;
      for (int w = 0; w < kRowsPerWarpBlock; ++w) s += per_row[w];
      partials[blockIdx.x] = s;
    }
  } else {
    if (threadIdx.x == 0) partials[blockIdx.x] = term;
  }
}

// Each row's max and log-sum recomputed, as on the CPU: a saved log-sum-exp, rounded to T, would cost the
// probabilities of large logits their accuracy.
template <class T, bool kWarp>
__global__ void cross_entropy_backward_kernel(int64_t rows, int64_t cols, const T* logits,
                                              const int64_t* targets, const T* grad_loss, T* gx) {
  const RowGroup<kWarp> g(rows);
  if (!g.valid) return;
  const T* xr = logits + g.row * cols;
  const lse::Row<T> row = row_lse(g, xr, cols);
  const T scale = *grad_loss / T(rows);
  const int64_t target = targets[g.row];
  T* out = gx + g.row * cols;
  for (int64_t j = g.rank; j < cols; j += g.size) {
    T v = hd::exp(row.log_prob(xr[j])) * scale;
    if (j == target) v -= scale;
    out[j] = v;
  }
}

template <class T, bool kWarp>
__global__ void l2_normalize_forward_kernel(int64_t rows, int64_t cols, const T* x, T eps, T* y,
                                            T* inv_norm) {
  const RowGroup<kWarp> g(rows);
  if (!g.valid) return;
  const T* xr = x + g.row * cols;
  T ss = 0;
  for (int64_t j = g.rank; j < cols; j += g.size) ss += xr[j] * xr[j];
  const T inv = T(1) / hd::max(hd::sqrt(g.sum(ss)), eps);
  if (g.rank == 0) inv_norm[g.row] = inv;
  T* yr = y + g.row * cols;
  for (int64_t j = g.rank; j < cols; j += g.size) yr[j] = xr[j] * inv;
}

template <class T, bool kWarp>
__global__ void l2_normalize_backward_kernel(int64_t rows, int64_t cols, const T* y, const T* inv_norm, T eps,
                                             const T* grad, T* gx) {
  const RowGroup<kWarp> g(rows);
  if (!g.valid) return;
  const T inv = inv_norm[g.row];
  // Then y = x / eps, a plain scaling (the same for the group); compared as the forward computed it.
  const bool clamped = inv >= T(1) / eps;
  const T *yr = y + g.row * cols, *gr = grad + g.row * cols;
  T dot = 0;
  if (!clamped) {
    for (int64_t j = g.rank; j < cols; j += g.size) dot += yr[j] * gr[j];
    dot = g.sum(dot);
  }
  T* out = gx + g.row * cols;
  for (int64_t j = g.rank; j < cols; j += g.size) out[j] = inv * (gr[j] - yr[j] * dot);
}

// Launches the warp-per-row kernel for short rows, the block-per-row one for long rows.
template <class... Params, class... Args>
void launch_rows(void (*warp_kernel)(Params...), void (*block_kernel)(Params...), int64_t rows, int64_t cols,
                 Args... args) {
  launch(warp_per_row(cols) ? warp_kernel : block_kernel, blocks_for_rows(rows, cols), kThreads, 0, args...);
}

}  // namespace

template <class T>
void softmax_forward(int64_t rows, int64_t cols, const T* x, T* y) {
  if (rows == 0 || cols == 0) return;
  launch_rows(softmax_forward_kernel<T, true, false>, softmax_forward_kernel<T, false, false>, rows, cols,
              rows, cols, x, y);
}

template <class T>
void log_softmax_forward(int64_t rows, int64_t cols, const T* x, T* y) {
  if (rows == 0 || cols == 0) return;
  launch_rows(softmax_forward_kernel<T, true, true>, softmax_forward_kernel<T, false, true>, rows, cols, rows,
              cols, x, y);
}

template <class T>
void softmax_backward(int64_t rows, int64_t cols, const T* y, const T* g, T* gx) {
  if (rows == 0 || cols == 0) return;
  launch_rows(softmax_backward_kernel<T, true, false>, softmax_backward_kernel<T, false, false>, rows, cols,
              rows, cols, y, g, gx);
}

template <class T>
void log_softmax_backward(int64_t rows, int64_t cols, const T* y, const T* g, T* gx) {
  if (rows == 0 || cols == 0) return;
  launch_rows(softmax_backward_kernel<T, true, true>, softmax_backward_kernel<T, false, true>, rows, cols,
              rows, cols, y, g, gx);
}

template <class T>
void cross_entropy_forward(int64_t rows, int64_t cols, const T* logits, const int64_t* targets, T* lse,
                           T* out) {
  const int64_t blocks = rows == 0 ? 0 : blocks_for_rows(rows, cols);
  DeviceScratch<double> partials(blocks);
  if (blocks > 0)
    launch_rows(cross_entropy_forward_kernel<T, true>, cross_entropy_forward_kernel<T, false>, rows, cols,
                rows, cols, logits, targets, lse, partials.get());
  mean_of_partials(partials.get(), blocks, double(rows), out);  // rows == 0: 0 / 0, NaN as on the CPU
}

template <class T>
void cross_entropy_backward(int64_t rows, int64_t cols, const T* logits, const int64_t* targets,
                            const T* grad_loss, T* gx) {
  if (rows == 0 || cols == 0) return;
  launch_rows(cross_entropy_backward_kernel<T, true>, cross_entropy_backward_kernel<T, false>, rows, cols,
              rows, cols, logits, targets, grad_loss, gx);
}

template <class T>
void l2_normalize_forward(int64_t rows, int64_t cols, const T* x, T eps, T* y, T* inv_norm) {
  if (rows == 0) return;
  launch_rows(l2_normalize_forward_kernel<T, true>, l2_normalize_forward_kernel<T, false>, rows, cols, rows,
              cols, x, eps, y, inv_norm);
}

template <class T>
void l2_normalize_backward(int64_t rows, int64_t cols, const T* y, const T* inv_norm, T eps, const T* g,
                           T* gx) {
  if (rows == 0 || cols == 0) return;
  launch_rows(l2_normalize_backward_kernel<T, true>, l2_normalize_backward_kernel<T, false>, rows, cols, rows,
              cols, y, inv_norm, eps, g, gx);
}

#define SSL_INSTANTIATE(T)                                                                           \
  template void softmax_forward<T>(int64_t, int64_t, const T*, T*);                                  \
  template void softmax_backward<T>(int64_t, int64_t, const T*, const T*, T*);                       \
  template void log_softmax_forward<T>(int64_t, int64_t, const T*, T*);                              \
  template void log_softmax_backward<T>(int64_t, int64_t, const T*, const T*, T*);                   \
  template void cross_entropy_forward<T>(int64_t, int64_t, const T*, const int64_t*, T*, T*);        \
  template void cross_entropy_backward<T>(int64_t, int64_t, const T*, const int64_t*, const T*, T*); \
  template void l2_normalize_forward<T>(int64_t, int64_t, const T*, T, T*, T*);                      \
  template void l2_normalize_backward<T>(int64_t, int64_t, const T*, const T*, T, const T*, T*);
SSL_INSTANTIATE(float)
SSL_INSTANTIATE(double)
#undef SSL_INSTANTIATE

}  // namespace ssl::kernels::SSL_CUDA_NS
