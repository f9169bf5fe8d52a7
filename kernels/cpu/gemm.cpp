// GEMM through Eigen's blocked kernels. Called outside a parallel region, Eigen splits the work over the
// OpenMP threads; inside one (e.g. convolution's per-image loop) it runs on the calling thread.
#include "kernels/gemm.h"

#include <Eigen/Core>

#if defined(SSL_GEMM_CHECK_OPERANDS)
#include <sanitizer/asan_interface.h>

#include <cstdio>
#include <cstdlib>
#endif

namespace ssl::kernels::cpu {

namespace {

// The sanitizer build compiles this file without instrumentation (CMakeLists.txt), so that Eigen's kernels
// run at full speed; what AddressSanitizer would catch here, an operand reaching past its buffer, is checked
// on the operand's whole extent instead: `rows` rows of `cols` elements, `ld` apart. Elsewhere, a no-op.
#if defined(SSL_GEMM_CHECK_OPERANDS)
template <class T>
void check_addressable(const char* name, const T* p, int64_t rows, int64_t cols, int64_t ld) {
  if (rows == 0 || cols == 0) return;
  const size_t bytes = size_t((rows - 1) * ld + cols) * sizeof(T);
  if (void* bad = __asan_region_is_poisoned(const_cast<T*>(p), bytes)) {
    std::fprintf(stderr,
                 "gemm: operand %s [%lld x %lld, rows %lld apart] reaches unaddressable memory at %p\n", name,
                 (long long)rows, (long long)cols, (long long)ld, bad);
    __asan_describe_address(bad);
    __sanitizer_print_stack_trace();
    std::abort();
  }
}
#else
template <class T>
void check_addressable(const char*, const T*, int64_t, int64_t, int64_t) {}
#endif

}  // namespace

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using ConstMap = Eigen::Map<const Mat, 0, Eigen::OuterStride<>>;
  using Map = Eigen::Map<Mat, 0, Eigen::OuterStride<>>;
  check_addressable("C", c, m, n, ldc);
  Map C(c, m, n, Eigen::OuterStride<>(ldc));
  if (k == 0) {
    if (beta == T(0))
      C.setZero();
    else
      C *= beta;
    return;
  }
  // The stored shapes: A is [m, k] or, transposed, [k, m]; likewise B.
  const int64_t a_rows = trans_a ? k : m, a_cols = trans_a ? m : k;
  const int64_t b_rows = trans_b ? n : k, b_cols = trans_b ? k : n;
  check_addressable("A", a, a_rows, a_cols, lda);
  check_addressable("B", b, b_rows, b_cols, ldb);
  const ConstMap A(a, a_rows, a_cols, Eigen::OuterStride<>(lda));
  const ConstMap B(b, b_rows, b_cols, Eigen::OuterStride<>(ldb));
  auto product = [&](const auto& opA, const auto& opB) {
    if (beta == T(0)) {
      C.noalias() = alpha * opA * opB;
    } else {
      if (beta != T(1)) C *= beta;
      C.noalias() += alpha * opA * opB;
    }
  };
  if (!trans_a && !trans_b)
    product(A, B);
  else if (trans_a && !trans_b)
    product(A.transpose(), B);
  else if (!trans_a && trans_b)
    product(A, B.transpose());
  else
    product(A.transpose(), B.transpose());
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                          int64_t, float, float*, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                           const double*, int64_t, double, double*, int64_t);

}  // namespace ssl::kernels::cpu
