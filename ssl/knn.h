// The k-nearest-neighbour protocol (Wu et al., 2018, as SimCLR-style papers report it): frozen features
// L2-normalised, each query's k most cosine-similar training features vote for their class with weight
// exp(similarity / temperature), and the class scores rank the predictions (Top-1, Top-5). No training.
// The weights are taken relative to the nearest neighbour's (the same ranking, and no overflow at any
// temperature).
#pragma once

#include "core/ops.h"

namespace ssl {

struct KnnOptions {
  int64_t k = 200;
  double temperature = 0.1;  // ../shared/ALGORITHMS.md: votes weighted by exp(similarity / 0.1)
};

class KnnClassifier {
 public:
  // Keeps the training features x [N, F] (normalised) and labels [N] in [0, classes).
  KnnClassifier(const Tensor& x, const Tensor& labels, int64_t classes, const KnnOptions& options = {});

  // Class scores [M, classes] of queries [M, F]: the summed weights exp((s − s_nearest) / T) of each
  // class among the k neighbours.
  // With exclude_self, query i is training sample i and is not its own neighbour (leave-one-out scores of
  // the training set).
  Tensor scores(const Tensor& queries, bool exclude_self = false) const;

 private:
  Tensor x_;                     // [N, F], rows of unit length, float32
  std::vector<int64_t> labels_;  // [N]
  int64_t classes_;
  KnnOptions options_;
};

}  // namespace ssl
