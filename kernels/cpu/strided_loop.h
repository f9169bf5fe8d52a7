// The loop behind every elementwise kernel: visits all elements of an N-d shape for K strided operands,
// row by row, handing the innermost run to a functor. Adjacent dims that are contiguous for every operand
// are merged first, so a contiguous or a simply-broadcast case becomes one long row the compiler can
// vectorise.
#pragma once

#include <omp.h>

#include <array>
#include <cstdint>
#include <vector>

namespace ssl::kernels::cpu {

// Calls row(ptrs, inner_strides, n) for runs of n elements; ptrs[k] points at operand k's first element of
// the run and inner_strides[k] is its stride (in elements) along the run.
template <size_t K, class Row>
void strided_loop(int64_t ndim, const int64_t* shape_in, std::array<char*, K> base,
                  std::array<const int64_t*, K> strides_in, std::array<int64_t, K> elem_size, Row&& row) {
  // Collapse dims: keep non-unit dims and merge neighbours that are contiguous in every operand.
  std::vector<int64_t> shape;
  std::array<std::vector<int64_t>, K> strides;
  int64_t total = 1;
  for (int64_t d = 0; d < ndim; ++d) {
    total *= shape_in[d];
    if (shape_in[d] == 1) continue;
    bool merge = !shape.empty();
    for (size_t k = 0; k < K && merge; ++k) merge = strides[k].back() == strides_in[k][d] * shape_in[d];
    if (merge) {
      shape.back() *= shape_in[d];
      for (size_t k = 0; k < K; ++k) strides[k].back() = strides_in[k][d];
    } else {
      shape.push_back(shape_in[d]);
      for (size_t k = 0; k < K; ++k) strides[k].push_back(strides_in[k][d]);
    }
  }
  if (total == 0) return;
  if (shape.empty()) {  // a single element
    shape.push_back(1);
    for (size_t k = 0; k < K; ++k) strides[k].push_back(0);
  }
  // Long single rows are cut into chunks so that threads have work to share.
  const int64_t nd = int64_t(shape.size());
  const int64_t inner = shape.back();
  constexpr int64_t kChunk = 16384;
  const int64_t chunks_per_row = (inner + kChunk - 1) / kChunk;
  const int64_t rows = total / inner;
  const int64_t tasks = rows * chunks_per_row;
  std::array<int64_t, K> inner_stride;
  for (size_t k = 0; k < K; ++k) inner_stride[k] = strides[k].back();

#pragma omp parallel for schedule(static) if (total > 32768 && !omp_in_parallel())
  for (int64_t task = 0; task < tasks; ++task) {
    int64_t r = task / chunks_per_row;
    const int64_t start = (task % chunks_per_row) * kChunk;
    const int64_t n = std::min(kChunk, inner - start);
    std::array<char*, K> ptrs = base;
    for (int64_t d = nd - 2; d >= 0; --d) {  // row index → offsets of its first element
      const int64_t i = r % shape[d];
      r /= shape[d];
      for (size_t k = 0; k < K; ++k) ptrs[k] += i * strides[k][d] * elem_size[k];
    }
    for (size_t k = 0; k < K; ++k) ptrs[k] += start * inner_stride[k] * elem_size[k];
    row(ptrs, inner_stride, n);
  }
}

}  // namespace ssl::kernels::cpu
