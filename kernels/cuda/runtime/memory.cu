// Device memory for the CUDA backend: the caching allocator, pinned host memory and copies on the device's
// stream (contracts in kernels/device_memory.h).
#include <map>
#include <mutex>
#include <vector>

#include "kernels/cuda/api.h"
#include "kernels/device_memory.h"

namespace ssl::kernels::cuda {

bool cuda_is_built() { return true; }

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver / no device" status
    return 0;
  }
  return n;
}

bool cuda_is_available() { return device_count() > 0; }

void check_device(int device) {
  const int n = device_count();
  SSL_CHECK(device >= 0 && device < n, "cuda: device ", device, " requested but ", n,
            " CUDA device(s) are present", n == 0 ? " (no driver or no GPU on this machine)" : "");
}

void set_device(int device) { SSL_CUDA_CHECK(cudaSetDevice(device)); }

namespace {

// Rounded sizes make blocks of nearly equal requests interchangeable: 512-byte steps below 1 MiB, 2 MiB
// steps above (the granularity cudaMalloc itself works in).
size_t rounded(size_t nbytes) {
  const size_t step = nbytes < (size_t(1) << 20) ? 512 : (size_t(2) << 20);
  return std::max(step, (nbytes + step - 1) / step * step);
}

// One pool per device (and one for pinned host memory): free blocks by size, and the size of every block
// handed out, so that a free knows which list it returns to.
class Pool {
 public:
  template <class Alloc, class Release>
  void* take(size_t nbytes, Alloc alloc, Release release) {
    const size_t size = rounded(nbytes);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.find(size);
    void* p = nullptr;
    if (it != free_.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
    } else {
      p = alloc(size);
      if (!p) {  // out of memory: give the cached blocks back to the driver and try once more
        for (auto& [s, blocks] : free_) {
          for (void* b : blocks) release(b);
          reserved_ -= s * blocks.size();
        }
        free_.clear();
        p = alloc(size);
      }
      if (!p) return nullptr;
      reserved_ += size;
    }
    in_use_[p] = size;
    return p;
  }
  void give_back(void* p) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = in_use_.find(p);
    if (it == in_use_.end()) return;  // not ours (never happens through Storage)
    free_[it->second].push_back(p);
    in_use_.erase(it);
  }
  size_t reserved() {
    std::lock_guard<std::mutex> lock(mu_);
    return reserved_;
  }

 private:
  std::mutex mu_;
  std::map<size_t, std::vector<void*>> free_;
  std::map<void*, size_t> in_use_;
  size_t reserved_ = 0;
};

Pool& device_pool(int device) {
  static std::mutex mu;
  static std::map<int, Pool*> pools;  // never destroyed: storages may outlive static destructors
  std::lock_guard<std::mutex> lock(mu);
  Pool*& p = pools[device];
  if (!p) p = new Pool();
  return *p;
}

Pool& pinned_pool() {
  static Pool* p = new Pool();
  return *p;
}

}  // namespace

void* device_malloc(size_t nbytes, int device) {
  check_device(device);
  SSL_CUDA_CHECK(cudaSetDevice(device));
  void* p = device_pool(device).take(
      nbytes,
      [](size_t size) {
        void* q = nullptr;
        if (cudaMalloc(&q, size) != cudaSuccess) {
          cudaGetLastError();
          return static_cast<void*>(nullptr);
        }
        return q;
      },
      [](void* q) { cudaFree(q); });
  size_t free_bytes = 0, total_bytes = 0;
  if (!p) cudaMemGetInfo(&free_bytes, &total_bytes);
  SSL_CHECK(p != nullptr, "cuda: out of memory on device ", device, ": could not allocate ", nbytes,
            " bytes (", free_bytes >> 20, " MiB free of ", total_bytes >> 20, " MiB)");
  return p;
}

void device_free(void* ptr, int device) {
  if (ptr) device_pool(device).give_back(ptr);  // never throws: called from destructors
}

size_t device_bytes_reserved(int device) { return device_pool(device).reserved(); }

void* pinned_malloc(size_t nbytes) {
  cudaError_t status = cudaSuccess;
  void* p = pinned_pool().take(
      nbytes,
      [&status](size_t size) {
        void* q = nullptr;
        status = cudaHostAlloc(&q, size, cudaHostAllocDefault);
        if (status != cudaSuccess) {
          cudaGetLastError();
          return static_cast<void*>(nullptr);
        }
        return q;
      },
      [](void* q) { cudaFreeHost(q); });
  SSL_CHECK(p != nullptr, "cuda: could not allocate ", nbytes, " bytes of pinned host memory (",
            cudaGetErrorString(status), ")");
  return p;
}

void pinned_free(void* ptr) {
  if (ptr) pinned_pool().give_back(ptr);
}

void copy(void* dst, const void* src, size_t nbytes, CopyKind kind, int device) {
  const cudaMemcpyKind k = kind == CopyKind::host_to_device   ? cudaMemcpyHostToDevice
                           : kind == CopyKind::device_to_host ? cudaMemcpyDeviceToHost
                                                              : cudaMemcpyDeviceToDevice;
  SSL_CUDA_CHECK(cudaSetDevice(device));
  SSL_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, k, stream()));
  // The host may read (or free) its side as soon as we return.
  if (kind != CopyKind::device_to_device) SSL_CUDA_CHECK(cudaStreamSynchronize(stream()));
}

void synchronize(int device) {
  SSL_CUDA_CHECK(cudaSetDevice(device));
  SSL_CUDA_CHECK(cudaStreamSynchronize(stream()));
}

}  // namespace ssl::kernels::cuda
