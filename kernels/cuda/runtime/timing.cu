// CUDA-event timing and the ceilings the kernel study harness compares against (kernels/cuda/timing.h).
#include <algorithm>
#include <vector>

#include "kernels/common/median.h"
#include "kernels/cuda/api.h"
#include "kernels/cuda/library.h"
#include "kernels/cuda/timing.h"
#include "kernels/device_memory.h"

namespace ssl::kernels::cuda {

namespace {
// A CUDA event destroyed with the object, so that a timed function that throws leaks none.
struct Event {
  cudaEvent_t event = nullptr;
  Event() { SSL_CUDA_CHECK(cudaEventCreate(&event)); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event() { cudaEventDestroy(event); }
  operator cudaEvent_t() const { return event; }
};
}  // namespace

double median_ms(const std::function<void()>& fn, int repeats, int warmup) {
  for (int i = 0; i < warmup; ++i) fn();
  const Event start, stop;
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    SSL_CUDA_CHECK(cudaEventRecord(start, stream()));
    fn();
    SSL_CUDA_CHECK(cudaEventRecord(stop, stream()));
    SSL_CUDA_CHECK(cudaEventSynchronize(stop));
    float t = 0;
    SSL_CUDA_CHECK(cudaEventElapsedTime(&t, start, stop));
    ms.push_back(t);
  }
  return median(ms);
}

double copy_gb_per_s() {
  int device = 0;
  SSL_CUDA_CHECK(cudaGetDevice(&device));
  const size_t bytes = size_t(1) << 30;
  void* a = device_malloc(bytes, device);
  void* b = device_malloc(bytes, device);
  const double ms = median_ms(
      [&] { SSL_CUDA_CHECK(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, stream())); }, 10, 2);
  device_free(a, device);
  device_free(b, device);
  return 2.0 * double(bytes) / (ms * 1e6);
}

double sgemm_gflop_per_s() {
  int device = 0;
  SSL_CUDA_CHECK(cudaGetDevice(&device));
  const int64_t n = 8192;
  const size_t bytes = sizeof(float) * size_t(n * n);
  auto* a = static_cast<float*>(device_malloc(bytes, device));
  auto* b = static_cast<float*>(device_malloc(bytes, device));
  auto* c = static_cast<float*>(device_malloc(bytes, device));
  SSL_CUDA_CHECK(cudaMemsetAsync(a, 0, bytes, stream()));  // the values do not change the time
  SSL_CUDA_CHECK(cudaMemsetAsync(b, 0, bytes, stream()));
  const bool tf32 = allow_tf32();
  set_allow_tf32(false);
  const double ms = median_ms([&] { gemm<float>(false, false, n, n, n, 1.f, a, n, b, n, 0.f, c, n); }, 5, 1);
  set_allow_tf32(tf32);
  device_free(a, device);
  device_free(b, device);
  device_free(c, device);
  return 2.0 * double(n) * n * n / (ms * 1e6);
}

}  // namespace ssl::kernels::cuda
