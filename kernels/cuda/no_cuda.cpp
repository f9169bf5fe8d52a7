// The CUDA entry points of a build without CUDA: each says clearly that the backend is missing.
#include "core/error.h"
#include "kernels/cuda/library.h"
#include "kernels/cuda/timing.h"
#include "kernels/device_memory.h"

namespace ssl::kernels::cuda {

namespace {
[[noreturn]] void not_built(const char* what) {
  throw Error(str_cat(
      what, ": this build has no CUDA backend (configure with -DSSL_CUDA=ON on a machine with nvcc)"));
}
}  // namespace

bool cuda_is_built() { return false; }
bool cuda_is_available() { return false; }
int device_count() { return 0; }
void check_device(int) { not_built("cuda device"); }
void set_device(int) { not_built("cuda device"); }
void* device_malloc(size_t, int) { not_built("device_malloc"); }
void device_free(void*, int) {}
size_t device_bytes_reserved(int) { return 0; }
void* pinned_malloc(size_t) { not_built("pinned_malloc"); }
void pinned_free(void*) {}
void copy(void*, const void*, size_t, CopyKind, int) { not_built("cuda copy"); }
void synchronize(int) { not_built("cuda synchronize"); }
void set_allow_tf32(bool) {}
bool allow_tf32() { return false; }
bool cudnn_is_built() { return false; }
double median_ms(const std::function<void()>&, int, int) { not_built("cuda timing"); }
double copy_gb_per_s() { not_built("cuda timing"); }
double sgemm_gflop_per_s() { not_built("cuda timing"); }

}  // namespace ssl::kernels::cuda
