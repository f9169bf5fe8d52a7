// A block of memory on one device, shared by every tensor that views it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/device.h"

namespace ssl {

class Storage {
 public:
  // CPU memory is 64-byte aligned (one cache line, one AVX-512 vector); CUDA memory comes from the
  // CUDA backend. `pinned` CPU memory is page-locked (from the CUDA backend too), so that copies from it to a
  // GPU run at full bus speed: the loader's batches when training on a GPU. Contents are uninitialised.
  Storage(size_t nbytes, Device device, bool pinned = false);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  bool pinned() const { return pinned_; }

  // How many times this memory was written in place through the tensor API (fill_, copy_, an optimizer's
  // step). Autograd notes it when a backward formula saves a tensor on this storage, and refuses to run the
  // formula if it has moved since: the gradient would come from the new values.
  uint64_t version() const { return version_; }
  void bump_version() { ++version_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  bool pinned_ = false;
  uint64_t version_ = 0;
};

// Copies nbytes between two buffers on any pair of devices.
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes);

}  // namespace ssl
