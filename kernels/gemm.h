// General matrix multiply on row-major matrices: C = alpha · op(A) · op(B) + beta · C, where op(X) is X or
// Xᵀ. `lda` is the distance between rows of A as stored (so a transposed view needs no copy).
#pragma once

#include <cstdint>

namespace ssl::kernels::cpu {

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// The same on the calling thread only, for products inside a parallel region (the convolutions' per-chunk
// GEMMs). With AVX-512, or AVX2 and FMA, float uses our own blocked kernel (kernels/cpu/gemm_serial.cpp) when
// C has 4 rows or more; otherwise Eigen.
template <class T>
void gemm_serial(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                 int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

}  // namespace ssl::kernels::cpu
