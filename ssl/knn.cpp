#include "ssl/knn.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace ssl {
namespace {

// The rows of x [N, F] scaled to unit length, in float32, with no floor on the norm: a random encoder's
// features can be 1e-16 long, which l2_normalize's guard of 1e-12 would leave as they are. The norm is taken
// in double of the row divided by its largest magnitude, so that no square underflows or overflows. A row of
// zeros stays zeros.
Tensor unit_rows(const Tensor& x) {
  const int64_t n = x.size(0), f = x.size(1);
  const std::vector<double> v = x.to(DType::f64).contiguous().to_vector<double>();
  std::vector<float> out(v.size(), 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    const double* row = v.data() + i * f;
    double largest = 0;
    for (int64_t j = 0; j < f; ++j) {
      SSL_CHECK(std::isfinite(row[j]), "knn: the features of row ", i, " hold a NaN or an infinity (feature ",
                j, ")");
      largest = std::max(largest, std::abs(row[j]));
    }
    if (largest == 0) continue;
    double squares = 0;
    for (int64_t j = 0; j < f; ++j) squares += (row[j] / largest) * (row[j] / largest);
    const double scale = 1 / (largest * std::sqrt(squares));
    for (int64_t j = 0; j < f; ++j) out[size_t(i * f + j)] = float(row[j] * scale);
  }
  return Tensor::from_vector(out, {n, f});
}

}  // namespace

KnnClassifier::KnnClassifier(const Tensor& x, const Tensor& labels, int64_t classes, const KnnOptions& o)
    : classes_(classes), options_(o) {
  SSL_CHECK(x.dim() == 2 && labels.dim() == 1 && x.size(0) == labels.size(0) && x.size(0) > 0,
            "knn: features [N, F] and labels [N] expected, got ", x.shape(), " and ", labels.shape());
  SSL_CHECK(o.k >= 1 && o.temperature > 0, "knn: k must be >= 1 and the temperature > 0, got k=", o.k,
            " temperature=", o.temperature);
  NoGradGuard no_grad;
  x_ = unit_rows(x);
  SSL_CHECK(labels.dtype() == DType::i64, "knn: labels must be int64, got ", labels.dtype());
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
  const Tensor q = unit_rows(queries);
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
      // Weights relative to the nearest neighbour's, exp((s - s_nearest) / T): in (0, 1], so no temperature
      // overflows float (exp(s / T) would past s / T = 88), and the ranking of the classes is the same.
      float* votes = out.data() + (r0 + r) * classes_;
      const double nearest = s[order[0]];
      for (int64_t j = 0; j < k; ++j) {
        const int64_t i = order[size_t(j)];
        votes[labels_[size_t(i)]] += float(std::exp((double(s[i]) - nearest) / options_.temperature));
      }
    }
  }
  return Tensor::from_vector(out, {m, classes_});
}

}  // namespace ssl
