// Fused NT-Xent (SimCLR's contrastive loss) on the CPU: forward and backward without the 2N x 2N matrix.
//
// Notation (M = 2N rows, see kernels/ntxent.h): zn_i = z_i / max(||z_i||, eps), s_ij = zn_i . zn_j / tau,
// C(i) = the candidates of anchor i (all j != i, or the other view), p(i) = the positive of i.
//
// Forward.   loss = 1/M * sum_i [ lse_i - s_{i,p(i)} ],   lse_i = log sum_{j in C(i)} exp(s_ij).
//   lse is computed like a flash-attention softmax. The similarities come in tiles of rows x columns
//   (one gemm_serial each, kernels/gemm.h), and every anchor keeps a running maximum m_i and a running sum
//   l_i = sum_j exp(s_ij - m_i) (the "online log-sum-exp", kernels/common/logsumexp.h). When a tile raises
//   the maximum to m',
//     l_i <- l_i * exp(m_i - m') + sum_{j in tile} exp(s_ij - m'),   m_i <- m',
//   and at the end lse_i = m_i + log l_i. Every exponent is <= 0, so nothing overflows at any temperature.
//   The excluded self-similarity is set to -inf in the diagonal tiles: it neither wins the maximum nor
//   adds to the sum.
//
// Backward.  With P_ij = exp(s_ij - lse_i) (anchor i's softmax over its candidates, recomputed from the
//   saved lse) and g = grad_loss / M:
//     dL/ds_ij = G_ij = g * (P_ij - [j == p(i)])   for j in C(i), 0 elsewhere
//     dL/dzn   = (G + G^T) zn / tau               (s_ij depends on both zn_i and zn_j)
//     dL/dz_i  = inv_norm_i * (dzn_i - zn_i (zn_i . dzn_i))   (the Jacobian of z / ||z||)
//   A row whose norm was clamped to eps has zn = z / eps, linear in z: there dL/dz_i = inv_norm_i * dzn_i.
//
// Symmetry.  S is symmetric, so only the tile pairs (I, J) with I <= J are computed (in the cross-view
//   variant, only the N x N block view1 x view2). One tile serves both directions: its rows update the
//   running (m, l) of the anchors in I, its columns those of the anchors in J. In the backward the tile
//     H_ij = (G_IJ + G_JI^T)_ij = g * (exp(s_ij - lse_i) + exp(s_ij - lse_j) - 2 [j == p(i)])
//   gives both dzn_I += H zn_J / tau and dzn_J += H^T zn_I / tau (a diagonal tile is its own mirror:
//   only the first). The exps are not shared between the directions: each has its own shift.
//
// Parallelism.  The tile pairs are dealt round-robin to the OpenMP threads. A tile pair updates the rows
//   of two tiles, so each thread has private running (m, l) arrays (forward) and a private dzn [M, d]
//   buffer (backward; thread 0 uses gz itself), merged row by row in thread order afterwards. The result
//   is deterministic for a given number of threads.
//
// Cost.  Forward: half of S, M^2 d FLOPs (2 M^2 d for the whole matrix, halved by symmetry). Backward:
//   half of S again (M^2 d) plus (G + G^T) zn (2 M^2 d: symmetry gives no discount there). In all
//   4 M^2 d FLOPs and 2 M^2 exps, on O(M d) data that stays in L2: compute-bound, so the floor is the
//   GEMM's rate; the exps (~15%) and the diagonal tiles, computed whole for half their use, keep it below.
//   `ssl bench --only ntxent` times it (README's "Speed" gives the figures).
//   Tiles of 192 or 256 rows gain a few % at N = 1024 and lose at N = 256 (too few tile pairs to balance
//   two threads), so 128 it is.
#include "kernels/ntxent.h"

#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "core/error.h"
#include "kernels/common/logsumexp.h"
#include "kernels/gemm.h"

namespace ssl::kernels::cpu {
namespace {

template <class T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using MatrixMap = Eigen::Map<Matrix<T>>;
template <class T>
using ConstMatrixMap = Eigen::Map<const Matrix<T>>;
template <class T>
using RowArray = Eigen::Array<T, 1, Eigen::Dynamic>;
template <class T>
using ConstRowArrayMap = Eigen::Map<const RowArray<T>>;

// Rows per tile. A 128 x 128 tile of S (64 KiB in float) and its two 128 x d blocks of zn stay in L2.
constexpr int64_t kTile = 128;

template <class T>
constexpr T kMinusInf = -std::numeric_limits<T>::infinity();

// One block of the similarity matrix: anchors [r0, r1) x candidates [c0, c1).
struct TilePair {
  int64_t r0, r1, c0, c1;
  bool diagonal;  // the same rows on both sides: holds the self-similarities, and is its own mirror
};

// The tile pairs that cover every (anchor, candidate) pair exactly once, counting a tile and its mirror once.
std::vector<TilePair> tile_pairs(const NtXentShape& s) {
  auto tiles = [](int64_t begin, int64_t end) {
    std::vector<std::pair<int64_t, int64_t>> out;
    for (int64_t b = begin; b < end; b += kTile) out.push_back({b, std::min(b + kTile, end)});
    return out;
  };
  std::vector<TilePair> pairs;
  const int64_t n = s.two_n / 2;
  if (s.cross_view_only) {  // view 1 x view 2; the mirror (view 2 x view 1) is the same tiles transposed
    for (auto [r0, r1] : tiles(0, n))
      for (auto [c0, c1] : tiles(n, s.two_n)) pairs.push_back({r0, r1, c0, c1, false});
  } else {  // the upper triangle of tiles, diagonal included
    const auto t = tiles(0, s.two_n);
    for (size_t a = 0; a < t.size(); ++a)
      for (size_t b = a; b < t.size(); ++b)
        pairs.push_back({t[a].first, t[a].second, t[b].first, t[b].second, a == b});
  }
  return pairs;
}

}  // namespace

template <class T>
T ntxent_forward(const NtXentShape& s, const T* z, T temperature, NtXentSaved<T> saved) {
  check_ntxent_args(s, temperature, {z, saved.zn, saved.inv_norm, saved.lse}, "ntxent_forward");
  const int64_t m_rows = s.two_n, d = s.d, n = s.two_n / 2;
  const T inv_tau = T(1) / temperature;
  const std::vector<TilePair> pairs = tile_pairs(s);
  const int max_threads = omp_get_max_threads();

  // Per-thread running max and sum of every anchor, and each anchor's loss term.
  std::vector<T> run_max(size_t(max_threads) * m_rows), run_sum(size_t(max_threads) * m_rows);
  std::vector<double> term(m_rows);
  ConstMatrixMap<T> zm(z, m_rows, d);
  MatrixMap<T> zn(saved.zn, m_rows, d);

#pragma omp parallel num_threads(max_threads)
  {
    const int t = omp_get_thread_num(), team = omp_get_num_threads();

    // 1. Normalise the rows.
#pragma omp for schedule(static)
    for (int64_t i = 0; i < m_rows; ++i) {
      const T inv = T(1) / std::max(zm.row(i).norm(), T(kNtXentNormEps));
      saved.inv_norm[i] = inv;
      zn.row(i) = zm.row(i) * inv;
    }

    // 2. Every tile pair of S updates the running (max, sum) of its rows' and its columns' anchors.
    T* mx = run_max.data() + size_t(t) * m_rows;
    T* sum = run_sum.data() + size_t(t) * m_rows;
    std::fill(mx, mx + m_rows, kMinusInf<T>);
    std::fill(sum, sum + m_rows, T(0));
    Matrix<T> tile_buf(kTile, kTile);
    RowArray<T> col_max(kTile), col_sum(kTile);
#pragma omp for schedule(static, 1)
    for (size_t k = 0; k < pairs.size(); ++k) {
      const TilePair& p = pairs[k];
      const int64_t nr = p.r1 - p.r0, nc = p.c1 - p.c0;
      MatrixMap<T> st(tile_buf.data(), nr, nc);
      gemm_serial<T>(false, true, nr, nc, d, inv_tau, saved.zn + p.r0 * d, d, saved.zn + p.c0 * d, d, T(0),
                     st.data(), nc);
      if (p.diagonal) st.diagonal().setConstant(kMinusInf<T>);  // the self-similarity is excluded

      // Pass 1: the new running maxima of the column anchors c0.. (the mirror tile); rows' come in pass 2.
      auto col_new = col_max.head(nc);
      if (!p.diagonal) {
        col_new = ConstRowArrayMap<T>(mx + p.c0, nc);
        for (int64_t r = 0; r < nr; ++r) col_new = col_new.max(st.row(r).array());
      }
      // Pass 2: the exps against the new maxima, summed along rows and along columns.
      col_sum.head(nc).setZero();
      for (int64_t r = 0; r < nr; ++r) {
        const int64_t i = p.r0 + r;
        const T row_new = std::max(mx[i], st.row(r).maxCoeff());
        if (row_new == kMinusInf<T>) continue;  // nothing but the masked diagonal seen so far
        // (Eigen's vectorised exp returns ~1e-38, not 0, for the masked -inf: nothing next to a sum >= 1.)
        sum[i] = lse::rescaled(sum[i], mx[i], row_new) + (st.row(r).array() - row_new).exp().sum();
        mx[i] = row_new;
        if (!p.diagonal) col_sum.head(nc) += (st.row(r).array() - col_new).exp();
      }
      if (!p.diagonal) {  // the diagonal tile's columns are its rows, counted above
        for (int64_t c = 0; c < nc; ++c) {
          const int64_t j = p.c0 + c;
          sum[j] = lse::rescaled(sum[j], mx[j], col_new[c]) + col_sum[c];
          mx[j] = col_new[c];
        }
      }
    }

    // 3. Merge the threads' (max, sum) in thread order; lse and each anchor's term of the loss.
#pragma omp for schedule(static)
    for (int64_t i = 0; i < m_rows; ++i) {
      lse::Running<T> all = lse::empty<T>();
      for (int u = 0; u < team; ++u)
        all = lse::merge(all, {run_max[size_t(u) * m_rows + i], run_sum[size_t(u) * m_rows + i]});
      saved.lse[i] = lse::value(all);
      const T s_pos = zn.row(i).dot(zn.row(ntxent_positive(i, n))) * inv_tau;
      term[i] = double(saved.lse[i]) - double(s_pos);
    }
  }

  double total = 0;  // summed in a fixed order, in double
  for (double v : term) total += v;
  return T(total / double(m_rows));
}

template <class T>
void ntxent_backward(const NtXentShape& s, T temperature, NtXentSaved<const T> saved, T grad_loss, T* gz) {
  check_ntxent_args(s, temperature, {saved.zn, saved.inv_norm, saved.lse, gz}, "ntxent_backward");
  const int64_t m_rows = s.two_n, d = s.d, n = s.two_n / 2;
  const T inv_tau = T(1) / temperature;
  // g carries the 1/tau of ds_ij/dzn as well, so the tile h below is H / tau and dzn += h zn.
  const T g = grad_loss / (T(m_rows) * temperature);
  const std::vector<TilePair> pairs = tile_pairs(s);
  const int max_threads = omp_get_max_threads();
  ConstMatrixMap<T> zn(saved.zn, m_rows, d);
  // dzn buffers of threads 1.. (thread 0 accumulates straight into gz). Left uninitialised: zeroed by owner.
  std::unique_ptr<T[]> scratch(new T[size_t(std::max(max_threads - 1, 0)) * m_rows * d]);

#pragma omp parallel num_threads(max_threads)
  {
    const int t = omp_get_thread_num(), team = omp_get_num_threads();
    MatrixMap<T> dzn(t == 0 ? gz : scratch.get() + size_t(t - 1) * m_rows * d, m_rows, d);
    dzn.setZero();

    // 1. Recompute each tile pair of S, form H, and accumulate both of its products into this thread's dzn.
    Matrix<T> tile_buf(kTile, kTile);
#pragma omp for schedule(static, 1)
    for (size_t k = 0; k < pairs.size(); ++k) {
      const TilePair& p = pairs[k];
      const int64_t nr = p.r1 - p.r0, nc = p.c1 - p.c0;
      const auto zr = zn.middleRows(p.r0, nr);
      const auto zc = zn.middleRows(p.c0, nc);
      MatrixMap<T> h(tile_buf.data(), nr, nc);
      // S, overwritten by H row by row below
      gemm_serial<T>(false, true, nr, nc, d, inv_tau, zr.data(), d, zc.data(), d, T(0), h.data(), nc);
      const ConstRowArrayMap<T> lse_c(saved.lse + p.c0, nc);
      for (int64_t r = 0; r < nr; ++r) {
        const T lse_r = saved.lse[p.r0 + r];
        // P of the anchor in row r, plus P of each column's anchor (the mirror tile, transposed).
        h.row(r).array() = g * ((h.row(r).array() - lse_r).exp() + (h.row(r).array() - lse_c).exp());
        const int64_t j = ntxent_positive(p.r0 + r, n);
        if (j >= p.c0 && j < p.c1) h(r, j - p.c0) -= 2 * g;  // [j == p(i)] from both directions
      }
      if (p.diagonal) h.diagonal().setZero();  // the excluded self-similarity has no gradient
      gemm_serial<T>(false, false, nr, d, nc, T(1), h.data(), nc, zc.data(), d, T(1), &dzn(p.r0, 0), d);
      if (!p.diagonal)
        gemm_serial<T>(true, false, nc, d, nr, T(1), h.data(), nc, zr.data(), d, T(1), &dzn(p.c0, 0), d);
    }

    // 2. Sum the threads' dzn in thread order, then chain through the normalisation.
#pragma omp for schedule(static)
    for (int64_t i = 0; i < m_rows; ++i) {
      Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>> gi(gz + i * d, d);
      for (int u = 1; u < team; ++u)
        gi += Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(
            scratch.get() + (size_t(u - 1) * m_rows + i) * d, d);
      const T inv = saved.inv_norm[i];
      if (inv >= T(1) / T(kNtXentNormEps)) {
        gi *= inv;  // the norm was clamped to eps: zn = z / eps is linear in z
      } else {
        gi = inv * (gi - zn.row(i) * zn.row(i).dot(gi));
      }
    }
  }
}

template float ntxent_forward<float>(const NtXentShape&, const float*, float, NtXentSaved<float>);
template double ntxent_forward<double>(const NtXentShape&, const double*, double, NtXentSaved<double>);
template void ntxent_backward<float>(const NtXentShape&, float, NtXentSaved<const float>, float, float*);
template void ntxent_backward<double>(const NtXentShape&, double, NtXentSaved<const double>, double, double*);

}  // namespace ssl::kernels::cpu
