// Scratch memory for kernels that need a large temporary buffer on every call (convolution's col matrices):
// one buffer per calling thread, kept between calls and grown when a call needs more, so a training step
// pays no allocation, page faults or zeroing for it. Its contents are left over from the previous call:
// callers initialise what they read.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>

#include "core/error.h"

namespace ssl::kernels::cpu {

// At least `count` elements of T, 64-byte aligned, valid until the next call from the same thread.
template <class T>
T* reusable_scratch(int64_t count) {
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  struct Buffer {
    std::unique_ptr<T, Free> data;
    int64_t capacity = 0;
  };
  thread_local Buffer buffer;
  if (count > buffer.capacity) {
    buffer.data.reset();  // release first: the old contents are not needed
    const size_t bytes = (size_t(count) * sizeof(T) + 63) / 64 * 64;
    buffer.data.reset(static_cast<T*>(std::aligned_alloc(64, bytes)));
    SSL_CHECK(buffer.data, "reusable_scratch: cannot allocate ", bytes, " bytes");
    buffer.capacity = count;
  }
  return buffer.data.get();
}

}  // namespace ssl::kernels::cpu
