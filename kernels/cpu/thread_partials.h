// Threading helpers for kernels that keep per-thread scratch: how many threads to use, and deterministic
// reductions of per-thread partial sums (each thread accumulates its own copy, with no atomics or races, and
// the copies are added in thread order, so a result depends on the thread count but never on timing).
#pragma once

#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

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

// K sums over i in [0, n) in double, the same on every run: add(i, acc) adds item i's terms into acc; each
// thread sums its static share of the items in order, and the shares are added in thread order. (OpenMP's
// reduction(+) adds the shares in the order the threads finish, which moves the last bits from run to run
// once three or more threads take part.) `parallel` is the region's if clause.
template <size_t K, class Add>
std::array<double, K> ordered_sums(int64_t n, bool parallel, Add add) {
  const int threads = parallel ? omp_get_max_threads() : 1;
  std::vector<std::array<double, K>> shares(size_t(threads), std::array<double, K>{});
#pragma omp parallel num_threads(threads) if (parallel)
  {
    std::array<double, K> acc{};
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) add(i, acc);
    shares[size_t(omp_get_thread_num())] = acc;
  }
  std::array<double, K> total{};
  for (const std::array<double, K>& share : shares)
    for (size_t k = 0; k < K; ++k) total[k] += share[k];
  return total;
}

}  // namespace ssl::kernels::cpu
