// Batching images into one GEMM, for the convolutions (kernels/cpu/conv.cpp, conv_transpose.cpp).
//
// A GEMM packs its operands anew on every call, so one GEMM per image costs a pass over the weights per
// image; when an image has few pixels (a 512x4608 weight against 16 columns) that packing outweighs the
// arithmetic. A chunk of images lays their [rows, p] planes side by side as one [rows, nb*p] matrix, so that
// one GEMM serves them all: image b's block is columns [b*p, (b+1)*p).
#pragma once

#include <algorithm>
#include <cstdint>

namespace ssl::kernels::cpu {

// Columns a GEMM should have at least for the weights' packing to be a small part of its cost.
constexpr int64_t kMinColumns = 256;

// Images per chunk for planes of p pixels: enough for kMinColumns columns, but at most ⌈n / threads⌉, so that
// the chunks spread over the threads.
inline int64_t images_per_chunk(int64_t p, int64_t n, int threads) {
  const int64_t wanted = (kMinColumns + p - 1) / p;
  const int64_t per_thread = (n + threads - 1) / threads;
  return std::clamp<int64_t>(std::min(wanted, per_thread), 1, n);
}

// The copies are plain loops marked `omp simd`: the compiler vectorises them inline. (Eigen block assignments
// were 2-3x slower here because they peel scalars to align every short row, and a memcpy per row pays a call
// for 16-32 values.)

// Copies `rows` rows of length p from `planes` (one image's [rows, p] block each, images `image_stride`
// apart) into the [rows, nb*p] matrix m.
template <class T>
void gather_planes(const T* planes, int64_t image_stride, int64_t nb, int64_t rows, int64_t p, T* m) {
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t r = 0; r < rows; ++r) {
      const T* src = planes + b * image_stride + r * p;
      T* dst = m + r * nb * p + b * p;
#pragma omp simd
      for (int64_t q = 0; q < p; ++q) dst[q] = src[q];
    }
}

// The inverse: the [rows, nb*p] matrix m back into the images' planes.
template <class T>
void scatter_planes(const T* m, int64_t nb, int64_t rows, int64_t p, T* planes, int64_t image_stride) {
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t r = 0; r < rows; ++r) {
      const T* src = m + r * nb * p + b * p;
      T* dst = planes + b * image_stride + r * p;
#pragma omp simd
      for (int64_t q = 0; q < p; ++q) dst[q] = src[q];
    }
}

}  // namespace ssl::kernels::cpu
