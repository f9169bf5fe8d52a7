// How many positions a sliding window (convolution, pooling) takes along one dimension.
#pragma once

#include <cstdint>

namespace ssl::kernels {

// The largest stride, padding, pooling window or upsampling scale the ops take. With it, and sizes below
// 2^62 (a tensor's element count is below 2^63), a padded size or a window's end cannot overflow; an
// output size that multiplies a size by one of them is saturated (below) instead.
inline constexpr int64_t kMaxWindowArgument = (int64_t(1) << 31) - 1;

// A size computed in 128 bits, held at 2^63 - 1 rather than wrapped around where it is larger: a shape that
// holds it is then refused by numel_of ("more than 2^63 - 1 elements") before anything is allocated.
inline int64_t saturated(__int128 size) { return size > INT64_MAX ? INT64_MAX : int64_t(size); }

// Windows of `kernel` elements, `stride` apart, that fit in `padded_size` elements; 0 when none fits.
// (padded_size - kernel) / stride + 1 alone would say 1 for a window up to stride - 1 elements too large,
// since C++ division rounds toward zero, and the kernels would then read and write past the input.
inline int64_t window_count(int64_t padded_size, int64_t kernel, int64_t stride) {
  return padded_size < kernel ? 0 : (padded_size - kernel) / stride + 1;
}

}  // namespace ssl::kernels
