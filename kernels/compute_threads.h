// The CPU kernels' thread count (OpenMP's) for as long as a ComputeThreads lives, put back when it ends, even
// when an exception ends it. The kernels split their sums by thread and add the shares in thread order, so a
// result depends on this count but never on timing: a training run sets the count it records, tests pin the
// count a check needs.
#pragma once

#include <omp.h>

namespace ssl::kernels {

class ComputeThreads {
 public:
  // `requested` > 0: that many threads; 0: the process's count, as it is.
  explicit ComputeThreads(int requested) : previous_(omp_get_max_threads()) {
    if (requested > 0) omp_set_num_threads(requested);
  }
  ~ComputeThreads() { omp_set_num_threads(previous_); }
  ComputeThreads(const ComputeThreads&) = delete;
  ComputeThreads& operator=(const ComputeThreads&) = delete;
  int count() const { return omp_get_max_threads(); }

 private:
  int previous_;
};

}  // namespace ssl::kernels
