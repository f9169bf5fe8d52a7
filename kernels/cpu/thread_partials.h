// Deterministic reductions of per-thread partial sums: each thread accumulates its own copy (no atomics, no
// races) and the copies are added in thread order, so a result depends on the thread count but never on
// timing.
#pragma once

#include <cstdint>

namespace ssl::kernels::cpu {

// out[i] = Σ_t parts[t·size + i], in thread order. Call from inside an OpenMP parallel region (after the
// partials are complete): the loop is shared among the region's threads.
template <class T>
void sum_thread_partials(const T* parts, int threads, int64_t size, T* out) {
#pragma omp for schedule(static)
  for (int64_t i = 0; i < size; ++i) {
    T acc = 0;
    for (int t = 0; t < threads; ++t) acc += parts[t * size + i];
    out[i] = acc;
  }
}

}  // namespace ssl::kernels::cpu
