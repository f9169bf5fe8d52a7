// The linear-evaluation protocol: features of a frozen encoder, computed once, then multinomial logistic
// regression (a linear layer and softmax cross-entropy, with weight decay) fitted on the training features.
// Features are standardised with the training set's mean and standard deviation.
#pragma once

#include "core/ops.h"

namespace ssl {

struct TopK {
  double top1 = 0, top5 = 0;  // fractions in [0, 1]
};

// Fraction of rows whose label is the arg-max of `scores` (top1), or among the 5 largest (top5; all
// classes count when there are fewer than 5). Ties are broken by class index, as arg-max does; a NaN
// score is an error.
TopK topk_accuracy(const Tensor& scores, const Tensor& labels);

struct LinearProbeOptions {
  int64_t epochs = 60;
  int64_t batch_size = 256;
  double lr = 1e-3;  // Adam
  double weight_decay = 1e-4;
  uint64_t seed = 0;
  bool show_progress = true;
};

class LinearProbe {
 public:
  // Fits the classifier on features x [N, F] with labels [N] in [0, classes).
  LinearProbe(const Tensor& x, const Tensor& labels, int64_t classes, const LinearProbeOptions& options = {});
  Tensor scores(const Tensor& x) const;  // [N, classes]
  TopK evaluate(const Tensor& x, const Tensor& labels) const;

 private:
  Tensor scaled(const Tensor& x) const;  // x times scale_
  Tensor standardise(const Tensor& x) const;
  double scale_ = 1;  // a power of two (see the constructor)
  Tensor mean_, inv_std_, weight_, bias_;
};

}  // namespace ssl
