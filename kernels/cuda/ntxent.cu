// NT-Xent (SimCLR's contrastive loss) on the GPU, forward and backward; contracts in kernels/cuda/ntxent.h,
// the math in kernels/cpu/ntxent.cpp (M = 2N rows, zn the L2-normalised rows, s_ij = zn_i . zn_j / tau,
// C(i) the candidates of anchor i, p(i) its positive, lse_i = log sum_{j in C(i)} exp(s_ij)).
//
// Versions (same signatures; the unsuffixed functions call _v2):
//   _v1  naive, built from the library's own row kernels: normalise the rows (l2_normalize_forward), write
//        the whole M x M similarity matrix to global memory with -inf at the excluded pairs (one thread per
//        entry, a plain dot product), and the loss is then cross_entropy_forward over its rows with p(i) as
//        the target. Backward: the matrix again, G = cross_entropy_backward of it, dzn = (G + G^T) zn / tau
//        (one thread per element of dzn), and l2_normalize_backward. O(M^2) memory, every entry of S
//        written and read several times, no data reuse in the dot products.
//   _v2  fused, like a flash-attention / fused cross-entropy: a block of 16 x 16 threads owns a tile of 64
//        anchor rows (32 for double) and walks the column tiles of S; each tile is computed in registers
//        from zn staged through shared memory 16 embedding columns at a time (each thread a 4 x 4 patch),
//        the excluded pairs set to -inf (not 0), and folded into a running (max, sum) per row and thread
//        (kernels/common/logsumexp.h). The 16 threads of a row merge their states with shuffles at the
//        end. S is never stored. To give the GPU enough blocks when M / 64 is small, the columns are also
//        split over gridDim.y blocks, whose (max, sum) states are merged in a fixed order afterwards.
//        Backward: the same tiles are recomputed from the saved zn and lse, turned into
//        H = G + G^T = g (exp(s_ij - lse_i) + exp(s_ij - lse_j) - 2 [j == p(i)]) in shared memory, and
//        H zn_J is accumulated in registers (one block per 64 rows x up to 128 columns of dzn); column
//        splits write partial dzn that are added in split order; then the chain through the
//        normalisation (l2_normalize_backward). Everything deterministic: no atomics anywhere.
//
// Cost for N = 4096 (M = 8192), d = 128, float:
//   forward   2 M^2 d = 17.2 GFLOP of similarities and M^2 = 67 M exps; bytes: z read and zn written,
//             2 x 4.2 MB. On an H100 (~60 TFLOP/s FP32 without tensor cores, ~3 TB/s): 0.29 ms of
//             flops against 3 us of memory: compute-bound, floor 0.29 ms.
//   backward  the similarities again (2 M^2 d) plus H zn (2 M^2 d): 34.4 GFLOP and 2 M^2 exps; bytes:
//             zn read, gz written (and the column splits' partial dzn, ~20 MB). Floor 0.57 ms.
//   together  ~0.86 ms; the target is 1.5x that (1.3 ms), to be measured on a GPU. Tiles of this
//             shape usually reach 50-70% of FP32 peak in SGEMM-like loops, so _v2 should land near the
//             target; the timings will tell whether the v3 below is needed.
//   _v1 moves M^2 x 4 B = 268 MB per pass over S and makes at least six (write S, read it for the lse;
//   in backward write S, read it and write G, read G and G^T): ~1.6 GB, 0.54 ms of DRAM time alone, on
//   top of untiled dot products that reload 2d values per entry and column-wise (uncoalesced) reads of G^T.
// How _v2 approaches the floor: S only ever lives in registers and shared memory; each 64 x 64 tile reads
// 2 x 64 x d values from L2 for 2 x 64 x 64 x d flops (64 flops per value), and each thread does 16 FMAs
// per 8 shared-memory loads. The exps (2 M^2 in backward, ~10 instructions each) add ~10% to the FMAs.
// What would close the rest of the gap (a v3): 128 x 128 tiles with 8 x 8 per thread (4 FMAs per shared
// load), vector loads and double-buffered shared memory; tensor cores (TF32) would go below this FP32 floor.
#include <cmath>

#include "core/error.h"
#include "kernels/common/logsumexp.h"
#include "kernels/common/scalar_math.h"
#include "kernels/cuda/kernel.cuh"
#include "kernels/cuda/ntxent.h"
#include "kernels/cuda/reduce_block.cuh"
#include "kernels/cuda/scratch.cuh"
#include "kernels/cuda/softmax.h"

namespace ssl::kernels::SSL_CUDA_NS {
namespace {

// ---- _v1: the similarity matrix in global memory ------------------------------------------------------

__global__ void positives_kernel(int64_t m_rows, int64_t* targets) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < m_rows;
       i += int64_t(gridDim.x) * blockDim.x)
    targets[i] = ntxent_positive(i, m_rows / 2);
}

// S[i, j] = zn_i . zn_j / tau for candidates, -inf elsewhere (the diagonal, and in the cross-view variant
// the own view): exp(-inf) = 0 removes them from every sum below. One thread per entry.
template <class T>
__global__ void similarity_matrix_kernel(int64_t m_rows, int64_t d, bool cross_view_only, const T* zn,
                                         T inv_tau, T* sim) {
  const int64_t i = int64_t(blockIdx.y) * blockDim.y + threadIdx.y;
  const int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= m_rows || j >= m_rows) return;
  T v = hd::minus_infinity<T>();
  if (ntxent_is_candidate(i, j, m_rows / 2, cross_view_only)) {
    T dot = 0;
    for (int64_t k = 0; k < d; ++k) dot += zn[i * d + k] * zn[j * d + k];
    v = dot * inv_tau;
  }
  sim[i * m_rows + j] = v;
}

// dzn[i, k] = sum_j (G[i, j] + G[j, i]) zn[j, k] / tau: s_ij depends on both zn_i and zn_j.
template <class T>
__global__ void symmetric_product_kernel(int64_t m_rows, int64_t d, const T* grad_sim, const T* zn, T inv_tau,
                                         T* dzn) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < m_rows * d;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = e / d, k = e % d;
    T acc = 0;
    for (int64_t j = 0; j < m_rows; ++j)
      acc += (grad_sim[i * m_rows + j] + grad_sim[j * m_rows + i]) * zn[j * d + k];
    dzn[e] = acc * inv_tau;
  }
}

// ---- _v2: fused tiles -----------------------------------------------------------------------------------

// The tile shape: blocks of kSide x kSide threads; thread (ty, tx) computes rows ty + kSide a and columns
// tx + kSide b (a, b < TM) of a BM x BM tile of S, so that neighbouring threads read neighbouring columns
// of shared memory. Doubles take half the tile to stay within 48 KiB of shared memory.
template <class T>
struct Tile {
  static constexpr int kSide = 16;
  static constexpr int TM = sizeof(T) == 4 ? 4 : 2;
  static constexpr int BM = kSide * TM;
  static constexpr int BK = 16;  // embedding columns per step through shared memory
  static constexpr int kThreads = kSide * kSide;
};

// The columns that hold candidates of any anchor in rows [r0, r1): all rows, or in the cross-view variant
// the other view (both views for a tile that straddles the two).
struct ColumnRange {
  int64_t begin, end;
};
__device__ __forceinline__ ColumnRange candidate_columns(int64_t r0, int64_t r1, int64_t n, bool cross) {
  if (cross && r1 <= n) return {n, 2 * n};
  if (cross && r0 >= n) return {0, n};
  return {0, 2 * n};
}

// How the column tiles are split over blocks (gridDim.y in forward, gridDim.z in backward) so that even a
// small M gives the GPU several blocks per SM. Depends on the shape only, so results are reproducible.
struct ColumnSplit {
  int64_t row_tiles, tiles_per_split, splits;
};
template <class T>
ColumnSplit column_split(const NtXentShape& s) {
  constexpr int64_t kTargetBlocks = 4 * 132;  // four per SM of an H100
  const int64_t bm = Tile<T>::BM, m_rows = s.two_n, n = m_rows / 2;
  // The widest candidate range of a row tile: the whole of S, or one view unless a tile straddles both.
  const int64_t widest = (!s.cross_view_only || n % bm != 0) ? m_rows : n;
  const int64_t row_tiles = (m_rows + bm - 1) / bm, col_tiles = (widest + bm - 1) / bm;
  const int64_t wanted =
      std::min(col_tiles, std::max<int64_t>(1, (kTargetBlocks + row_tiles - 1) / row_tiles));
  const int64_t per_split = (col_tiles + wanted - 1) / wanted;
  return {row_tiles, per_split, (col_tiles + per_split - 1) / per_split};
}

// The columns [begin, end) of S that block `split` of row tile r0 covers.
template <class T>
__device__ ColumnRange split_columns(int64_t m_rows, bool cross, int64_t r0, int64_t split,
                                     int64_t tiles_per_split) {
  const ColumnRange all =
      candidate_columns(r0, hd::min<int64_t>(r0 + Tile<T>::BM, m_rows), m_rows / 2, cross);
  const int64_t begin = all.begin + split * tiles_per_split * Tile<T>::BM;
  return {begin, hd::min(all.end, begin + tiles_per_split * Tile<T>::BM)};
}

// s[a][b] = zn_{r0 + ty + 16a} . zn_{c0 + tx + 16b} / tau for the calling thread's patch of the tile
// (rows or columns past m_rows read zn as 0). All threads of the block must call it (it synchronises).
template <class T>
__device__ void similarity_tile(const T* zn, int64_t m_rows, int64_t d, T inv_tau, int64_t r0, int64_t c0,
                                T (&a_sh)[Tile<T>::BK][Tile<T>::BM + 1],
                                T (&b_sh)[Tile<T>::BK][Tile<T>::BM + 1], T (&s)[Tile<T>::TM][Tile<T>::TM]) {
  using C = Tile<T>;
  const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * C::kSide + tx;
#pragma unroll
  for (int a = 0; a < C::TM; ++a)
#pragma unroll
    for (int b = 0; b < C::TM; ++b) s[a][b] = 0;
  for (int64_t k0 = 0; k0 < d; k0 += C::BK) {
    // Stage BK columns of both row blocks, transposed (k major), so the loop below reads rows of them.
    // Consecutive threads load consecutive k of one row: coalesced. The +1 keeps the stores conflict-free in
    // double (BM = 32); in float (BM = 64, a warp spans two rows) they meet 2-way bank conflicts.
    for (int e = tid; e < C::BK * C::BM; e += C::kThreads) {
      const int k = e % C::BK, r = e / C::BK;
      const int64_t col = k0 + k, ra = r0 + r, rb = c0 + r;
      a_sh[k][r] = (ra < m_rows && col < d) ? zn[ra * d + col] : T(0);
      b_sh[k][r] = (rb < m_rows && col < d) ? zn[rb * d + col] : T(0);
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < C::BK; ++k) {
      T av[C::TM], bv[C::TM];
#pragma unroll
      for (int a = 0; a < C::TM; ++a) av[a] = a_sh[k][ty + C::kSide * a];
#pragma unroll
      for (int b = 0; b < C::TM; ++b) bv[b] = b_sh[k][tx + C::kSide * b];
#pragma unroll
      for (int a = 0; a < C::TM; ++a)
#pragma unroll
        for (int b = 0; b < C::TM; ++b) s[a][b] += av[a] * bv[b];
    }
    __syncthreads();  // before the next step overwrites the staged columns
  }
#pragma unroll
  for (int a = 0; a < C::TM; ++a)
#pragma unroll
    for (int b = 0; b < C::TM; ++b) s[a][b] *= inv_tau;
}

// Block (row tile x, column split y): each anchor's running (max, sum) over its candidates in the split's
// columns, into part_max / part_sum [split, row]; the block that meets the positive stores s_{i,p(i)}.
template <class T>
__global__ void forward_tiles_kernel(int64_t m_rows, int64_t d, bool cross, const T* zn, T inv_tau,
                                     int64_t tiles_per_split, T* part_max, T* part_sum, T* pos_sim) {
  using C = Tile<T>;
  __shared__ T a_sh[C::BK][C::BM + 1];
  __shared__ T b_sh[C::BK][C::BM + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t n = m_rows / 2, r0 = int64_t(blockIdx.x) * C::BM;
  const ColumnRange cols = split_columns<T>(m_rows, cross, r0, blockIdx.y, tiles_per_split);

  lse::Running<T> run[C::TM];
#pragma unroll
  for (int a = 0; a < C::TM; ++a) run[a] = lse::empty<T>();
  for (int64_t c0 = cols.begin; c0 < cols.end; c0 += C::BM) {
    T s[C::TM][C::TM];
    similarity_tile(zn, m_rows, d, inv_tau, r0, c0, a_sh, b_sh, s);
#pragma unroll
    for (int a = 0; a < C::TM; ++a) {
      const int64_t i = r0 + ty + C::kSide * a;
      T tile_max = hd::minus_infinity<T>();
#pragma unroll
      for (int b = 0; b < C::TM; ++b) {
        const int64_t j = c0 + tx + C::kSide * b;
        if (i >= m_rows || j >= cols.end || !ntxent_is_candidate(i, j, n, cross)) {
          s[a][b] = hd::minus_infinity<T>();  // excluded: neither the max nor the sum sees it
        } else if (j == ntxent_positive(i, n)) {
          pos_sim[i] = s[a][b];
        }
        tile_max = hd::max(tile_max, s[a][b]);
      }
      run[a] = lse::push(run[a], s[a], C::TM, tile_max);
    }
  }
  // The 16 threads of a row are lanes tx = 0..15 of one half-warp: merge their states in a butterfly.
#pragma unroll
  for (int a = 0; a < C::TM; ++a) {
    for (int offset = C::kSide / 2; offset > 0; offset /= 2) {
      const lse::Running<T> other{__shfl_xor_sync(kFullWarp, run[a].max, offset, C::kSide),
                                  __shfl_xor_sync(kFullWarp, run[a].sum, offset, C::kSide)};
      run[a] = lse::merge(run[a], other);
    }
    const int64_t i = r0 + ty + C::kSide * a;
    if (tx == 0 && i < m_rows) {
      part_max[blockIdx.y * m_rows + i] = run[a].max;
      part_sum[blockIdx.y * m_rows + i] = run[a].sum;
    }
  }
}

// One thread per anchor: merge the splits' states in split order into lse_i, and the block's loss terms
// lse_i - s_{i,p(i)} (double) into partials[blockIdx.x].
template <class T>
__global__ void finish_forward_kernel(int64_t m_rows, int64_t splits, const T* part_max, const T* part_sum,
                                      const T* pos_sim, T* lse, double* partials) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  double term = 0;
  if (i < m_rows) {
    lse::Running<T> run = lse::empty<T>();
    for (int64_t k = 0; k < splits; ++k)
      run = lse::merge(run, {part_max[k * m_rows + i], part_sum[k * m_rows + i]});
    const T l = lse::value(run);
    lse[i] = l;
    term = double(l) - double(pos_sim[i]);
  }
  term = block_sum(term);
  if (threadIdx.x == 0) partials[blockIdx.x] = term;
}

// Block (row tile x, column chunk y of dzn, column split z of S): recompute the split's tiles of S, form
// H = G + G^T in shared memory, and accumulate dzn[rows, chunk] = H zn[cols, chunk] / tau in registers.
// Each thread owns rows ty + 16a and dzn columns tx + 16q (q < kQ) of the chunk. Written to
// parts[split, row, col].
// __launch_bounds__: at most 128 registers per thread, so two blocks fit on an SM (ptxas would take ~170
// for floats with kQ = 8 and leave one block of 8 warps per SM); it needs no spills for floats.
template <class T, int kQ>
__global__ void __launch_bounds__(256, 2)
    backward_tiles_kernel(int64_t m_rows, int64_t d, bool cross, const T* zn, const T* lse, T inv_tau,
                          const T* grad_loss, int64_t tiles_per_split, T* parts) {
  using C = Tile<T>;
  constexpr int kChunk = C::kSide * kQ;  // dzn columns per block
  __shared__ T a_sh[C::BK][C::BM + 1];
  __shared__ T b_sh[C::BK][C::BM + 1];
  __shared__ T h_sh[C::BM][C::BM + 1];
  __shared__ T z_sh[C::BK][kChunk];
  const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * C::kSide + tx;
  const int64_t n = m_rows / 2, r0 = int64_t(blockIdx.x) * C::BM, dc0 = int64_t(blockIdx.y) * kChunk;
  const ColumnRange cols = split_columns<T>(m_rows, cross, r0, blockIdx.z, tiles_per_split);
  const T g = *grad_loss / T(m_rows);  // d loss / d s_ij = g (P_ij - [j == p(i)])

  T lse_row[C::TM];
#pragma unroll
  for (int a = 0; a < C::TM; ++a) {
    const int64_t i = r0 + ty + C::kSide * a;
    lse_row[a] = i < m_rows ? lse[i] : T(0);
  }
  T acc[C::TM][kQ];
#pragma unroll
  for (int a = 0; a < C::TM; ++a)
#pragma unroll
    for (int q = 0; q < kQ; ++q) acc[a][q] = 0;

  for (int64_t c0 = cols.begin; c0 < cols.end; c0 += C::BM) {
    T s[C::TM][C::TM];
    similarity_tile(zn, m_rows, d, inv_tau, r0, c0, a_sh, b_sh, s);
    // H_ij = g (exp(s_ij - lse_i) + exp(s_ij - lse_j) - 2 [j == p(i)]) for candidates, 0 elsewhere.
#pragma unroll
    for (int b = 0; b < C::TM; ++b) {
      const int64_t j = c0 + tx + C::kSide * b;
      const T lse_col = j < cols.end ? lse[j] : T(0);
#pragma unroll
      for (int a = 0; a < C::TM; ++a) {
        const int64_t i = r0 + ty + C::kSide * a;
        T h = 0;
        if (i < m_rows && j < cols.end && ntxent_is_candidate(i, j, n, cross)) {
          h = g * (hd::exp(s[a][b] - lse_row[a]) + hd::exp(s[a][b] - lse_col));
          if (j == ntxent_positive(i, n)) h -= 2 * g;
        }
        h_sh[ty + C::kSide * a][tx + C::kSide * b] = h;
      }
    }
    __syncthreads();
    // acc += H zn[c0.., chunk], BK rows of zn at a time (rows past m_rows are 0, and so is H there).
    for (int k0 = 0; k0 < C::BM; k0 += C::BK) {
      for (int e = tid; e < C::BK * kChunk; e += C::kThreads) {
        const int k = e / kChunk, c = e % kChunk;
        const int64_t row = c0 + k0 + k, col = dc0 + c;
        z_sh[k][c] = (row < m_rows && col < d) ? zn[row * d + col] : T(0);
      }
      __syncthreads();
#pragma unroll
      for (int k = 0; k < C::BK; ++k) {
        T hv[C::TM], zv[kQ];
#pragma unroll
        for (int a = 0; a < C::TM; ++a) hv[a] = h_sh[ty + C::kSide * a][k0 + k];
#pragma unroll
        for (int q = 0; q < kQ; ++q) zv[q] = z_sh[k][tx + C::kSide * q];
#pragma unroll
        for (int a = 0; a < C::TM; ++a)
#pragma unroll
          for (int q = 0; q < kQ; ++q) acc[a][q] += hv[a] * zv[q];
      }
      __syncthreads();  // before z_sh (and, after the last step, h_sh) is overwritten
    }
  }
#pragma unroll
  for (int a = 0; a < C::TM; ++a) {
    const int64_t i = r0 + ty + C::kSide * a;
#pragma unroll
    for (int q = 0; q < kQ; ++q) {
      const int64_t col = dc0 + tx + C::kSide * q;
      if (i < m_rows && col < d) parts[(blockIdx.z * m_rows + i) * d + col] = acc[a][q] * inv_tau;
    }
  }
}

// out[e] = sum over splits of parts[split, e], in split order.
template <class T>
__global__ void sum_splits_kernel(int64_t count, int64_t splits, const T* parts, T* out) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < count;
       e += int64_t(gridDim.x) * blockDim.x) {
    T acc = parts[e];
    for (int64_t k = 1; k < splits; ++k) acc += parts[k * count + e];
    out[e] = acc;
  }
}

template <class T, int kQ>
void launch_backward_tiles(const NtXentShape& s, const ColumnSplit& split, const T* zn, const T* lse,
                           T inv_tau, const T* grad_loss, T* parts) {
  constexpr int64_t chunk = Tile<T>::kSide * kQ;
  const dim3 grid(unsigned(split.row_tiles), unsigned((s.d + chunk - 1) / chunk), unsigned(split.splits));
  launch(backward_tiles_kernel<T, kQ>, grid, dim3(Tile<T>::kSide, Tile<T>::kSide), 0, s.two_n, s.d,
         s.cross_view_only, zn, lse, inv_tau, grad_loss, split.tiles_per_split, parts);
}

}  // namespace

template <class T>
void ntxent_forward_v1(const NtXentShape& s, const T* z, T temperature, NtXentSaved<T> saved, T* loss) {
  check_ntxent_args(s, temperature, {z, saved.zn, saved.inv_norm, saved.lse, loss},
                    "ntxent_forward_v1 (cuda)");
  const int64_t m_rows = s.two_n;
  l2_normalize_forward(m_rows, s.d, z, T(kNtXentNormEps), saved.zn, saved.inv_norm);
  DeviceScratch<T> sim(m_rows * m_rows);
  DeviceScratch<int64_t> targets(m_rows);
  const dim3 block(16, 16), grid(unsigned((m_rows + 15) / 16), unsigned((m_rows + 15) / 16));
  launch(similarity_matrix_kernel<T>, grid, block, 0, m_rows, s.d, s.cross_view_only, saved.zn,
         T(1) / temperature, sim.get());
  launch(positives_kernel, blocks_for(m_rows, 256), 256, 0, m_rows, targets.get());
  // NT-Xent is the cross-entropy of each row of S with the positive as its class.
  cross_entropy_forward(m_rows, m_rows, sim.get(), targets.get(), saved.lse, loss);
}

template <class T>
void ntxent_backward_v1(const NtXentShape& s, T temperature, NtXentSaved<const T> saved, const T* grad_loss,
                        T* gz) {
  check_ntxent_args(s, temperature, {saved.zn, saved.inv_norm, saved.lse, grad_loss, gz},
                    "ntxent_backward_v1 (cuda)");
  const int64_t m_rows = s.two_n, d = s.d;
  DeviceScratch<T> sim(m_rows * m_rows), grad_sim(m_rows * m_rows), dzn(m_rows * d);
  DeviceScratch<int64_t> targets(m_rows);
  const dim3 block(16, 16), grid(unsigned((m_rows + 15) / 16), unsigned((m_rows + 15) / 16));
  launch(similarity_matrix_kernel<T>, grid, block, 0, m_rows, d, s.cross_view_only, saved.zn,
         T(1) / temperature, sim.get());
  launch(positives_kernel, blocks_for(m_rows, 256), 256, 0, m_rows, targets.get());
  cross_entropy_backward(m_rows, m_rows, sim.get(), targets.get(), grad_loss, grad_sim.get());
  launch(symmetric_product_kernel<T>, blocks_for(m_rows * d, 256), 256, 0, m_rows, d, grad_sim.get(),
         saved.zn, T(1) / temperature, dzn.get());
  l2_normalize_backward(m_rows, d, saved.zn, saved.inv_norm, T(kNtXentNormEps), dzn.get(), gz);
}

template <class T>
void ntxent_forward_v2(const NtXentShape& s, const T* z, T temperature, NtXentSaved<T> saved, T* loss) {
  check_ntxent_args(s, temperature, {z, saved.zn, saved.inv_norm, saved.lse, loss},
                    "ntxent_forward_v2 (cuda)");
  const int64_t m_rows = s.two_n;
  l2_normalize_forward(m_rows, s.d, z, T(kNtXentNormEps), saved.zn, saved.inv_norm);
  const ColumnSplit split = column_split<T>(s);
  DeviceScratch<T> part_max(split.splits * m_rows), part_sum(split.splits * m_rows), pos_sim(m_rows);
  launch(forward_tiles_kernel<T>, dim3(unsigned(split.row_tiles), unsigned(split.splits)),
         dim3(Tile<T>::kSide, Tile<T>::kSide), 0, m_rows, s.d, s.cross_view_only, saved.zn,
         T(1) / temperature, split.tiles_per_split, part_max.get(), part_sum.get(), pos_sim.get());
  const int threads = 256;
  const int64_t blocks = (m_rows + threads - 1) / threads;
  DeviceScratch<double> partials(blocks);
  launch(finish_forward_kernel<T>, unsigned(blocks), threads, 0, m_rows, split.splits, part_max.get(),
         part_sum.get(), pos_sim.get(), saved.lse, partials.get());
  mean_of_partials(partials.get(), blocks, double(m_rows), loss);
}

template <class T>
void ntxent_backward_v2(const NtXentShape& s, T temperature, NtXentSaved<const T> saved, const T* grad_loss,
                        T* gz) {
  check_ntxent_args(s, temperature, {saved.zn, saved.inv_norm, saved.lse, grad_loss, gz},
                    "ntxent_backward_v2 (cuda)");
  const int64_t m_rows = s.two_n, d = s.d;
  const ColumnSplit split = column_split<T>(s);
  // One split writes dzn straight into gz; several write partial dzn that are then added in split order.
  DeviceScratch<T> parts(split.splits > 1 ? split.splits * m_rows * d : 0);
  T* dzn = split.splits > 1 ? parts.get() : gz;
  const T inv_tau = T(1) / temperature;
  if (d <= 32)  // as few dzn columns per thread as cover d: no registers spent on columns past d
    launch_backward_tiles<T, 2>(s, split, saved.zn, saved.lse, inv_tau, grad_loss, dzn);
  else if (d <= 64)
    launch_backward_tiles<T, 4>(s, split, saved.zn, saved.lse, inv_tau, grad_loss, dzn);
  else
    launch_backward_tiles<T, 8>(s, split, saved.zn, saved.lse, inv_tau, grad_loss, dzn);
  if (split.splits > 1)
    launch(sum_splits_kernel<T>, blocks_for(m_rows * d, 256), 256, 0, m_rows * d, split.splits, parts.get(),
           gz);
  l2_normalize_backward(m_rows, d, saved.zn, saved.inv_norm, T(kNtXentNormEps), gz, gz);  // in place
}

template <class T>
void ntxent_forward(const NtXentShape& s, const T* z, T temperature, NtXentSaved<T> saved, T* loss) {
  ntxent_forward_v2(s, z, temperature, saved, loss);
}

template <class T>
void ntxent_backward(const NtXentShape& s, T temperature, NtXentSaved<const T> saved, const T* grad_loss,
                     T* gz) {
  ntxent_backward_v2(s, temperature, saved, grad_loss, gz);
}

#define SSL_INSTANTIATE(T)                                                                        \
  template void ntxent_forward<T>(const NtXentShape&, const T*, T, NtXentSaved<T>, T*);           \
  template void ntxent_forward_v1<T>(const NtXentShape&, const T*, T, NtXentSaved<T>, T*);        \
  template void ntxent_forward_v2<T>(const NtXentShape&, const T*, T, NtXentSaved<T>, T*);        \
  template void ntxent_backward<T>(const NtXentShape&, T, NtXentSaved<const T>, const T*, T*);    \
  template void ntxent_backward_v1<T>(const NtXentShape&, T, NtXentSaved<const T>, const T*, T*); \
  template void ntxent_backward_v2<T>(const NtXentShape&, T, NtXentSaved<const T>, const T*, T*);
SSL_INSTANTIATE(float)
SSL_INSTANTIATE(double)
#undef SSL_INSTANTIATE

}  // namespace ssl::kernels::SSL_CUDA_NS
