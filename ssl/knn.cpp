#include "ssl/knn.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace ssl {

KnnClassifier::KnnClassifier(const Tensor& x, const Tensor& labels, int64_t classes, const KnnOptions& o)
    : classes_(classes), options_(o) {
  SSL_CHECK(x.dim() == 2 && labels.dim() == 1 && x.size(0) == labels.size(0) && x.size(0) > 0,
            "knn: features [N, F] and labels [N] expected, got ", x.shape(), " and ", labels.shape());
  SSL_CHECK(o.k >= 1 && o.temperature > 0, "knn: k must be >= 1 and the temperature > 0, got k=", o.k,
            " temperature=", o.temperature);
  NoGradGuard no_grad;
  x_ = l2_normalize(x.to(DType::f32), 1).contiguous();
  labels_ = labels.to_vector<int64_t>();
  for (size_t i = 0; i < labels_.size(); ++i) {
    SSL_CHECK(labels_[i] >= 0 && labels_[i] < classes, "knn: label ", labels_[i], " of training sample ", i,
              " outside [0, ", classes, ")");
  }
}

Tensor KnnClassifier::scores(const Tensor& queries, bool exclude_self) const {
  SSL_CHECK(queries.dim() == 2 && queries.size(1) == x_.size(1), "knn: queries [M, ", x_.size(1),
            "] expected, got ", queries.shape());
  SSL_CHECK(!exclude_self || queries.size(0) == x_.size(0),
            "knn: leave-one-out scores need the training set itself as the queries");
  NoGradGuard no_grad;
  const Tensor q = l2_normalize(queries.to(DType::f32), 1);
  const int64_t m = q.size(0), n = x_.size(0), k = std::min<int64_t>(options_.k, n - (exclude_self ? 1 : 0));
  SSL_CHECK(k >= 1, "knn: no neighbours to vote (", n, " training samples",
            exclude_self ? "; the training split's leave-one-out score needs at least 2" : "", ")");
  std::vector<float> out(size_t(m * classes_), 0.0f);
  // Queries in blocks, so the similarity matrix never holds more than block x N values.
  const int64_t block = 256;
  for (int64_t r0 = 0; r0 < m; r0 += block) {
    const int64_t rows = std::min(block, m - r0);
    const std::vector<float> sim = matmul(q.slice(0, r0, r0 + rows), x_.t()).to_vector<float>();
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const float* s = sim.data() + r * n;
      std::vector<int64_t> order(static_cast<size_t>(n));
      std::iota(order.begin(), order.end(), 0);
      if (exclude_self) order.erase(order.begin() + (r0 + r));
      // The k most similar, ties broken by index so the result is deterministic.
      std::partial_sort(order.begin(), order.begin() + k, order.end(),
                        [s](int64_t a, int64_t b) { return s[a] > s[b] || (s[a] == s[b] && a < b); });
      float* votes = out.data() + (r0 + r) * classes_;
      for (int64_t j = 0; j < k; ++j) {
        const int64_t i = order[size_t(j)];
        votes[labels_[size_t(i)]] += float(std::exp(double(s[i]) / options_.temperature));
      }
    }
  }
  return Tensor::from_vector(out, {m, classes_});
}

}  // namespace ssl
