#include "core/storage.h"

#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "kernels/device_memory.h"

namespace ssl {

namespace {
constexpr size_t kAlignment = 64;
}

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  if (device.is_cpu()) {
    // aligned_alloc needs a size that is a multiple of the alignment; never ask for 0 bytes.
    const size_t rounded = std::max(kAlignment, (nbytes + kAlignment - 1) / kAlignment * kAlignment);
    data_ = std::aligned_alloc(kAlignment, rounded);
    SSL_CHECK(data_ != nullptr, "out of memory: could not allocate ", nbytes, " bytes on the CPU");
  } else {
    data_ = kernels::cuda::device_malloc(std::max<size_t>(nbytes, 1), device.index);
  }
}

Storage::~Storage() {
  if (device_.is_cpu()) {
    std::free(data_);
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
    kernels::cuda::copy(dst, src, nbytes, CopyKind::host_to_device);
  } else if (dst_device.is_cpu() && src_device.is_cuda()) {
    kernels::cuda::copy(dst, src, nbytes, CopyKind::device_to_host);
  } else {
    kernels::cuda::copy(dst, src, nbytes, CopyKind::device_to_device);
  }
}

Device Device::parse(const std::string& text) {
  if (text == "cpu") return cpu();
  if (text == "cuda") return cuda(0);
  if (text.rfind("cuda:", 0) == 0) {
    const std::string idx = text.substr(5);
    SSL_CHECK(!idx.empty() && idx.find_first_not_of("0123456789") == std::string::npos,
              "device: expected 'cpu', 'cuda' or 'cuda:N', got '", text, "'");
    return cuda(std::stoi(idx));
  }
  throw Error(str_cat("device: expected 'cpu', 'cuda' or 'cuda:N', got '", text, "'"));
}

}  // namespace ssl
