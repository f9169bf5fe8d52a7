#include "core/storage.h"

#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "core/host_arena.h"
#include "kernels/device_memory.h"

namespace ssl {

namespace {

// Under AddressSanitizer every CPU block comes from malloc, so that an access past a tensor's end is caught
// rather than landing in its neighbour in an arena chunk.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitizing = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitizing = true;
#else
constexpr bool kSanitizing = false;
#endif
#else
constexpr bool kSanitizing = false;
#endif

void* cpu_allocate(size_t nbytes) {
  return kSanitizing ? std::aligned_alloc(HostArena::kAlignment, HostArena::block_size(nbytes))
                     : host_arena().allocate(nbytes);
}

void cpu_release(void* p, size_t nbytes) {
  if (kSanitizing)
    std::free(p);
  else
    host_arena().release(p, nbytes);
}

}  // namespace

Storage::Storage(size_t nbytes, Device device, bool pinned)
    : nbytes_(nbytes), device_(device), pinned_(pinned) {
  SSL_CHECK(!pinned || device.is_cpu(), "storage: only host memory can be pinned, not ", device.str());
  if (pinned) {
    data_ = kernels::cuda::pinned_malloc(std::max<size_t>(nbytes, 1));
  } else if (device.is_cpu()) {
    data_ = cpu_allocate(nbytes);
    SSL_CHECK(data_ != nullptr, "out of memory: could not allocate ", nbytes, " bytes on the CPU");
  } else {
    data_ = kernels::cuda::device_malloc(std::max<size_t>(nbytes, 1), device.index);
  }
}

Storage::~Storage() {
  if (pinned_) {
    kernels::cuda::pinned_free(data_);
  } else if (device_.is_cpu()) {
    cpu_release(data_, nbytes_);
  } else {
    kernels::cuda::device_free(data_, device_.index);
  }
}

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes) {
  using kernels::cuda::CopyKind;
  if (nbytes == 0) return;
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    std::memcpy(dst, src, nbytes);
  } else if (dst_device.is_cuda() && src_device.is_cpu()) {
    kernels::cuda::copy(dst, src, nbytes, CopyKind::host_to_device, dst_device.index);
  } else if (dst_device.is_cpu() && src_device.is_cuda()) {
    kernels::cuda::copy(dst, src, nbytes, CopyKind::device_to_host, src_device.index);
  } else {
    SSL_CHECK(dst_device.index == src_device.index, "copy between two CUDA devices (", src_device.index,
              " -> ", dst_device.index, ") is not supported; go through the host");
    kernels::cuda::copy(dst, src, nbytes, CopyKind::device_to_device, dst_device.index);
  }
}

Device Device::parse(const std::string& text) {
  if (text == "cpu") return cpu();
  if (text == "cuda") return cuda(0);
  if (text.rfind("cuda:", 0) == 0) {
    const std::string idx = text.substr(5);
    SSL_CHECK(!idx.empty() && idx.size() <= 9 && idx.find_first_not_of("0123456789") == std::string::npos,
              "device: expected 'cpu', 'cuda' or 'cuda:N' (N up to 9 digits), got '", text, "'");
    return cuda(std::stoi(idx));
  }
  throw Error(str_cat("device: expected 'cpu', 'cuda' or 'cuda:N', got '", text, "'"));
}

Device Device::parse_present(const std::string& text) {
  const Device device = parse(text);
  if (device.is_cuda()) kernels::cuda::check_device(device.index);
  return device;
}

}  // namespace ssl
