// One stream per device, created on first use. Kernels and copies of a device all go on it, in order.
#include <mutex>
#include <vector>

#include "kernels/cuda/api.h"

namespace ssl::kernels::cuda {

cudaStream_t stream() {
  static std::mutex mu;
  static std::vector<cudaStream_t> streams;  // by device; never destroyed (the driver reclaims them at exit)
  int device = 0;
  SSL_CUDA_CHECK(cudaGetDevice(&device));
  std::lock_guard<std::mutex> lock(mu);
  if (int(streams.size()) <= device) streams.resize(device + 1, nullptr);
  if (!streams[device]) SSL_CUDA_CHECK(cudaStreamCreateWithFlags(&streams[device], cudaStreamNonBlocking));
  return streams[device];
}

}  // namespace ssl::kernels::cuda
