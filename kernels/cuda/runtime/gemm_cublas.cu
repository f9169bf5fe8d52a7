// GEMM through cuBLAS (kernels/cuda/library.h). cuBLAS is column-major; a row-major matrix is the
// column-major view of its transpose, so row-major C = op(A) op(B) is computed as the column-major
// Cᵀ = op(B)ᵀ op(A)ᵀ: the same call with A and B exchanged, and m and n.
#include <cublas_v2.h>

#include <atomic>
#include <climits>
#include <mutex>
#include <vector>

#include "kernels/cuda/api.h"
#include "kernels/cuda/library.h"

#define SSL_CUBLAS_CHECK(call)                                                                             \
  do {                                                                                                     \
    const cublasStatus_t ssl_cublas_status = (call);                                                       \
    if (ssl_cublas_status != CUBLAS_STATUS_SUCCESS)                                                        \
      throw ::ssl::Error(::ssl::str_cat("cuBLAS error ", cublasGetStatusString(ssl_cublas_status), " in ", \
                                        #call, " at ", __FILE__, ":", __LINE__));                          \
  } while (0)

namespace ssl::kernels::cuda {

namespace {

std::atomic<bool> tf32_allowed{false};

// One handle per device, bound to the device's stream.
cublasHandle_t handle() {
  static std::mutex mu;
  static std::vector<cublasHandle_t> handles;  // by device; kept for the life of the process
  int device = 0;
  SSL_CUDA_CHECK(cudaGetDevice(&device));
  std::lock_guard<std::mutex> lock(mu);
  if (int(handles.size()) <= device) handles.resize(device + 1, nullptr);
  if (!handles[device]) {
    // Kept only once bound to the stream: a handle left on the default stream would race this one's work.
    cublasHandle_t created = nullptr;
    SSL_CUBLAS_CHECK(cublasCreate(&created));
    try {
      SSL_CUBLAS_CHECK(cublasSetStream(created, stream()));
    } catch (...) {
      cublasDestroy(created);
      throw;
    }
    handles[device] = created;
  }
  SSL_CUBLAS_CHECK(
      cublasSetMathMode(handles[device], tf32_allowed ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  return handles[device];
}

cublasOperation_t op(bool trans) { return trans ? CUBLAS_OP_T : CUBLAS_OP_N; }

// The cuBLAS calls below take int sizes: a larger one would wrap to a smaller product instead of failing.
void check_int_sizes(int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldb, int64_t ldc) {
  for (const int64_t v : {m, n, k, lda, ldb, ldc}) {
    SSL_CHECK(v <= int64_t(INT_MAX), "gemm on CUDA: m ", m, ", n ", n, ", k ", k, " (leading dimensions ",
              lda, ", ", ldb, ", ", ldc, "): cuBLAS takes sizes up to ", INT_MAX);
  }
}

}  // namespace

void set_allow_tf32(bool allow) { tf32_allowed = allow; }
bool allow_tf32() { return tf32_allowed; }

template <>
void gemm<float>(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                 int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  check_int_sizes(m, n, k, lda, ldb, ldc);
  SSL_CUBLAS_CHECK(cublasSgemm(handle(), op(trans_b), op(trans_a), int(n), int(m), int(k), &alpha, b,
                               int(ldb), a, int(lda), &beta, c, int(ldc)));
}

template <>
void gemm<double>(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
                  int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  check_int_sizes(m, n, k, lda, ldb, ldc);
  SSL_CUBLAS_CHECK(cublasDgemm(handle(), op(trans_b), op(trans_a), int(n), int(m), int(k), &alpha, b,
                               int(ldb), a, int(lda), &beta, c, int(ldc)));
}

}  // namespace ssl::kernels::cuda
