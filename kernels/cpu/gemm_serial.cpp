// Single-threaded GEMM for the convolutions' per-thread products. With AVX-512, or AVX2 and FMA, float runs
// our own blocked kernel; otherwise, and for double, Eigen (kernels/cpu/gemm.cpp) on the calling thread. How
// the two compare depends on the machine (two 2-core Xeons gave different ratios), so `ssl bench --only
// gemm_serial` prints both on the convolution shapes, and README's Speed section gives the CPUs measured.
//
// The blocking is the classic one (Goto and van de Geijn): op(B) is packed in blocks of kKc x kNc, which
// stay in L2, as panels kNr columns wide; op(A) in blocks of kMc x kKc as panels kMr rows high. The
// micro-kernel keeps a kMr x kNr tile of C in registers (AVX-512: 6 x 64, 24 of the 32 vector registers;
// AVX2: 6 x 16, 12 of the 16) and, for each of the kKc steps, loads one row of the B panel (kVectors
// vectors) and broadcasts each of the kMr values of the A panel's column into kVectors FMAs. Packing also
// applies the transposes, so the kernel only ever sees unit-stride panels; panels at the edges are
// zero-padded and their tile is written back through a small buffer.
#include <omp.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "kernels/gemm.h"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#define SSL_OWN_SGEMM 1
#include <immintrin.h>
#endif

namespace ssl::kernels::cpu {

#if defined(SSL_OWN_SGEMM)
namespace {

// The widest vectors the CPU has, and the operations the micro-kernel needs on them. kNc keeps a block of
// op(B), kKc x kNc floats, within L2: 768 KB with AVX-512 (whose CPUs here have 1 MB or more), 384 KB with
// AVX2 (Zen 3 has 512 KB).
#if defined(__AVX512F__)
using Vec = __m512;
constexpr int64_t kWidth = 16, kVectors = 4, kNc = 512;
inline Vec vec_zero() { return _mm512_setzero_ps(); }
inline Vec vec_set(float x) { return _mm512_set1_ps(x); }
inline Vec vec_load_aligned(const float* p) { return _mm512_load_ps(p); }
inline Vec vec_load(const float* p) { return _mm512_loadu_ps(p); }
inline void vec_store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
inline Vec vec_mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
inline Vec vec_add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
inline Vec vec_fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
#else
using Vec = __m256;
constexpr int64_t kWidth = 8, kVectors = 2, kNc = 256;
inline Vec vec_zero() { return _mm256_setzero_ps(); }
inline Vec vec_set(float x) { return _mm256_set1_ps(x); }
inline Vec vec_load_aligned(const float* p) { return _mm256_load_ps(p); }
inline Vec vec_load(const float* p) { return _mm256_loadu_ps(p); }
inline void vec_store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
inline Vec vec_mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
inline Vec vec_add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
inline Vec vec_fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
#endif

constexpr int64_t kMr = 6, kNr = kWidth * kVectors;  // the tile of C
constexpr int64_t kKc = 384, kMc = 120;              // kMc, kNc: multiples of kMr, kNr

// How a finished tile lands in C: C = alpha·acc + beta·C on the first block of the depth (beta = 0: C is
// not read, it may hold anything), C += alpha·acc on the others.
struct Store {
  float alpha, beta;
  bool first;
  float apply(float acc, float c) const {
    return first ? alpha * acc + (beta == 0.f ? 0.f : beta * c) : c + alpha * acc;
  }
};

// C tile [kMr, kNr] (rows ldc apart) from the A panel [kc][kMr] and the B panel [kc][kNr].
void micro_kernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, const Store& s) {
  // The loops over r and v are unrolled so that acc lives in registers.
  Vec acc[kMr][kVectors];
#pragma GCC unroll 8
  for (int64_t r = 0; r < kMr; ++r)
#pragma GCC unroll 4
    for (int64_t v = 0; v < kVectors; ++v) acc[r][v] = vec_zero();
  for (int64_t p = 0; p < kc; ++p, a += kMr, b += kNr) {
    Vec bv[kVectors];
#pragma GCC unroll 4
    for (int64_t v = 0; v < kVectors; ++v) bv[v] = vec_load_aligned(b + kWidth * v);
#pragma GCC unroll 8
    for (int64_t r = 0; r < kMr; ++r) {
      const Vec av = vec_set(a[r]);
#pragma GCC unroll 4
      for (int64_t v = 0; v < kVectors; ++v) acc[r][v] = vec_fma(av, bv[v], acc[r][v]);
    }
  }
  const Vec alpha = vec_set(s.alpha), beta = vec_set(s.beta);
#pragma GCC unroll 8
  for (int64_t r = 0; r < kMr; ++r)
#pragma GCC unroll 4
    for (int64_t v = 0; v < kVectors; ++v) {
      float* dst = c + r * ldc + kWidth * v;
      Vec out = vec_mul(alpha, acc[r][v]);
      if (!s.first)
        out = vec_add(vec_load(dst), out);
      else if (s.beta != 0.f)
        out = vec_fma(beta, vec_load(dst), out);
      vec_store(dst, out);
    }
}

// op(A)[i0 + i][p0 + p] for i < mc, p < kc into panels of kMr rows: panel q holds, for each p, rows
// q*kMr .. q*kMr + kMr - 1 (zero beyond mc).
void pack_a(const float* a, int64_t lda, bool trans, int64_t i0, int64_t p0, int64_t mc, int64_t kc,
            float* out) {
  for (int64_t q = 0; q < mc; q += kMr)
    for (int64_t p = 0; p < kc; ++p)
      for (int64_t r = 0; r < kMr; ++r) {
        const int64_t i = i0 + q + r, d = p0 + p;
        *out++ = q + r < mc ? (trans ? a[d * lda + i] : a[i * lda + d]) : 0.f;
      }
}

// op(B)[p0 + p][j0 + j] for p < kc, j < nc into panels of kNr columns: panel q holds, for each p, columns
// q*kNr .. q*kNr + kNr - 1 (zero beyond nc).
void pack_b(const float* b, int64_t ldb, bool trans, int64_t p0, int64_t j0, int64_t kc, int64_t nc,
            float* out) {
  for (int64_t q = 0; q < nc; q += kNr, out += kc * kNr) {
    const int64_t width = std::min(kNr, nc - q);
    if (trans) {  // column j of the panel is row j0 + q + j of B, contiguous in p
      // Written in order, p by p: each line read serves 16 consecutive p while the kNr lines in use stay in
      // L1. (Written column by column, each of AVX-512's 64 columns touches kc lines 256 bytes apart, which
      // map to a quarter of L1's sets and do not fit there.) Rows a multiple of 1 KB apart (ldb a multiple of
      // 256, as in some convolutions' columns) defeat this too: their kNr lines share at most 4 of L1's 64
      // sets and are evicted.
      const float* src = b + (j0 + q) * ldb + p0;
      for (int64_t p = 0; p < kc; ++p) {
        float* dst = out + p * kNr;
        for (int64_t j = 0; j < width; ++j) dst[j] = src[j * ldb + p];
        for (int64_t j = width; j < kNr; ++j) dst[j] = 0.f;
      }
    } else {
      for (int64_t p = 0; p < kc; ++p) {
        const float* src = b + (p0 + p) * ldb + j0 + q;
        float* dst = out + p * kNr;
        for (int64_t j = 0; j < width; ++j) dst[j] = src[j];
        for (int64_t j = width; j < kNr; ++j) dst[j] = 0.f;
      }
    }
  }
}

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  struct alignas(64) Block {
    float v[16];
  };
  // Packed blocks, per thread, kept between calls (their sizes are fixed).
  thread_local std::vector<Block> a_pack(kMc * kKc / 16), b_pack(kKc * kNc / 16);
  float* ap = a_pack.data()->v;
  float* bp = b_pack.data()->v;
  alignas(64) float tile[kMr * kNr];
  for (int64_t jc = 0; jc < n; jc += kNc) {
    const int64_t nc = std::min(kNc, n - jc);
    for (int64_t pc = 0; pc < k; pc += kKc) {
      const int64_t kc = std::min(kKc, k - pc);
      const Store store{alpha, beta, pc == 0};
      pack_b(b, ldb, trans_b, pc, jc, kc, nc, bp);
      for (int64_t ic = 0; ic < m; ic += kMc) {
        const int64_t mc = std::min(kMc, m - ic);
        pack_a(a, lda, trans_a, ic, pc, mc, kc, ap);
        for (int64_t ir = 0; ir < mc; ir += kMr)
          for (int64_t jr = 0; jr < nc; jr += kNr) {
            const float* a_panel = ap + ir * kc;
            const float* b_panel = bp + jr * kc;
            float* ct = c + (ic + ir) * ldc + jc + jr;
            const int64_t rows = std::min(kMr, mc - ir), cols = std::min(kNr, nc - jr);
            if (rows == kMr && cols == kNr) {
              micro_kernel(kc, a_panel, b_panel, ct, ldc, store);
              continue;
            }
            micro_kernel(kc, a_panel, b_panel, tile, kNr, Store{1.f, 0.f, true});
            for (int64_t r = 0; r < rows; ++r)
              for (int64_t j = 0; j < cols; ++j)
                ct[r * ldc + j] = store.apply(tile[r * kNr + j], ct[r * ldc + j]);
          }
      }
    }
  }
}

}  // namespace
#endif

template <class T>
void gemm_serial(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                 int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
#if defined(SSL_OWN_SGEMM)
  // With fewer than 4 rows of C, each packed value of op(B) serves at most 3 rows and packing costs more than
  // it saves: Eigen is faster there (Zen 3, 3 rows: 5-8 GFLOP/s against our 4-5). An empty product (k = 0,
  // C = beta·C) is Eigen's too.
  if constexpr (std::is_same_v<T, float>) {
    if (m >= 4 && k > 0) return sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
#endif
  // Eigen runs a product on the calling thread when it is inside a parallel region; make sure of it
  // outside one too.
  if (!omp_in_parallel()) {
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    omp_set_num_threads(threads);
    return;
  }
  gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

template void gemm_serial<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                                 const float*, int64_t, float, float*, int64_t);
template void gemm_serial<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                  const double*, int64_t, double, double*, int64_t);

}  // namespace ssl::kernels::cpu
