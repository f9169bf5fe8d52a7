// How many positions a sliding window (convolution, pooling) takes along one dimension.
#pragma once

#include <cstdint>

namespace ssl::kernels {

// Windows of `kernel` elements, `stride` apart, that fit in `padded_size` elements; 0 when none fits.
// (padded_size - kernel) / stride + 1 alone would say 1 for a window up to stride - 1 elements too large,
// since C++ division rounds toward zero, and the kernels would then read and write past the input.
inline int64_t window_count(int64_t padded_size, int64_t kernel, int64_t stride) {
  return padded_size < kernel ? 0 : (padded_size - kernel) / stride + 1;
}

}  // namespace ssl::kernels
