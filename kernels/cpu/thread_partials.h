// Threading helpers for kernels that keep per-thread scratch: how many threads to use, and deterministic
// reductions of per-thread partial sums (each thread accumulates its own copy, with no atomics or races, and
// the copies are added in thread order, so a result depends on the thread count but never on timing).
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace ssl::kernels::cpu {

// No more threads than independent items (images): an idle thread would only cost its scratch buffer.
inline int threads_for_items(int64_t n) {
  return static_cast<int>(std::clamp<int64_t>(omp_get_max_threads(), 1, n));
}

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
