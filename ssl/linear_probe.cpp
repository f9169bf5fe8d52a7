#include "ssl/linear_probe.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "nn/optim.h"
#include "ssl/progress.h"

namespace ssl {

TopK topk_accuracy(const Tensor& scores_in, const Tensor& labels_in) {
  SSL_CHECK(scores_in.dim() == 2 && labels_in.dim() == 1 && scores_in.size(0) == labels_in.size(0),
            "topk_accuracy: scores [N, C] and labels [N] expected, got ", scores_in.shape(), " and ",
            labels_in.shape());
  SSL_CHECK(labels_in.dtype() == DType::i64, "topk_accuracy: labels must be int64, got ", labels_in.dtype());
  const std::vector<float> s = scores_in.to_vector<float>();
  const std::vector<int64_t> y = labels_in.to_vector<int64_t>();
  const int64_t n = scores_in.size(0), c = scores_in.size(1);
  SSL_CHECK(n > 0, "topk_accuracy: no samples");
  int64_t hit1 = 0, hit5 = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* row = s.data() + i * c;
    SSL_CHECK(y[i] >= 0 && y[i] < c, "topk_accuracy: label ", y[i], " of sample ", i, " outside [0, ", c,
              ")");
    // The rank of the true class = how many classes come before it: those scoring higher, and those scoring
    // the same with a lower index (as arg-max breaks ties), so a model that scores every class alike is not
    // credited with every sample.
    const float truth = row[y[i]];
    int64_t before = 0;
    for (int64_t j = 0; j < c; ++j) {
      SSL_CHECK(!std::isnan(row[j]), "topk_accuracy: sample ", i, " has a NaN score for class ", j,
                "; the model's outputs are not numbers (did its training diverge?)");
      before += row[j] > truth || (row[j] == truth && j < y[i]);
    }
    hit1 += before == 0;
    hit5 += before < 5;
  }
  return {double(hit1) / n, double(hit5) / n};
}

LinearProbe::LinearProbe(const Tensor& x_in, const Tensor& labels, int64_t classes,
                         const LinearProbeOptions& o) {
  SSL_CHECK(x_in.dim() == 2 && labels.dim() == 1 && x_in.size(0) == labels.size(0) && x_in.size(0) > 0,
            "LinearProbe: features [N, F] and labels [N] expected, got ", x_in.shape(), " and ",
            labels.shape());
  SSL_CHECK(o.epochs >= 1 && o.batch_size >= 1 && o.lr > 0 && o.weight_decay >= 0,
            "LinearProbe: expected epochs >= 1, batch size >= 1, lr > 0 and weight decay >= 0, got epochs ",
            o.epochs, ", batch size ", o.batch_size, ", lr ", o.lr, ", weight decay ", o.weight_decay);
  // Said here rather than as a diverging loss (NaN features) or cross_entropy's target error (labels).
  const int64_t bad = first_non_finite(x_in);
  SSL_CHECK(bad < 0, "LinearProbe: the features of row ", bad / std::max<int64_t>(1, x_in.size(1)),
            " hold a NaN or an infinity");
  SSL_CHECK(labels.dtype() == DType::i64, "LinearProbe: labels must be int64, got ", labels.dtype());
  const std::vector<int64_t> label_values = labels.to_vector<int64_t>();
  for (size_t i = 0; i < label_values.size(); ++i)
    SSL_CHECK(label_values[i] >= 0 && label_values[i] < classes, "LinearProbe: label ", label_values[i],
              " of row ", i, " is outside [0, ", classes, ")");
  Tensor x;  // the features standardised
  {
    NoGradGuard no_grad;
    // The probe must not depend on the features' overall scale: a randomly initialised deep encoder in eval
    // mode (batch norm with fresh statistics) gives features that still separate the classes at 1e-13
    // (ResNet-18) or 1e-17 (MobileNetV1), whose float variances would sink under any fixed floor. Features
    // whose largest magnitude is far from 1 are first scaled by a power of two, which is exact, so they are
    // standardised as they would be at unit scale; the floor under each variance is relative to their mean.
    const Tensor all = x_in.reshape({-1});
    const double largest = std::max(max(all, 0).item(), max(neg(all), 0).item());
    const int exponent = largest > 0 && std::isfinite(largest) ? std::ilogb(largest) : 0;
    // Within float's range: features all below 2^-126 (subnormal) are scaled up as far as float allows.
    scale_ = std::abs(exponent) > 20 ? std::ldexp(1.0, std::clamp(-exponent, -126, 126)) : 1.0;
    const Tensor x_scaled = scaled(x_in);
    mean_ = mean(x_scaled, {0}, true);
    const Tensor centred = sub(x_scaled, mean_);
    const Tensor var = mean(mul(centred, centred), {0}, true);
    const double floor = 1e-6 * mean(var).item() + 1e-30;
    inv_std_ = div(Tensor::ones({1}), sqrt(add(var, floor)));
    x = mul(centred, inv_std_);  // standardise(x_in), from the centred features already at hand
  }
  const int64_t n = x.size(0), f = x.size(1);
  weight_ = Tensor::zeros({classes, f}).set_requires_grad();
  bias_ = Tensor::zeros({classes}).set_requires_grad();
  nn::Adam opt({weight_, bias_}, o.lr, 0.9, 0.999, 1e-8, o.weight_decay);

  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  Progress progress("linear probe", o.epochs, o.show_progress);
  double last_loss = 0;
  for (int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    rng::Stream stream(o.seed, rng::mix64(0x9B0BE, uint64_t(epoch)));
    for (int64_t i = n - 1; i > 0; --i)
      std::swap(order[i], order[stream.below(uint32_t(i + 1))]);  // Fisher-Yates
    double total = 0;
    int64_t batches = 0;
    for (int64_t start = 0; start < n; start += o.batch_size) {
      const int64_t end = std::min(n, start + o.batch_size);
      const Tensor idx = Tensor::from_vector(std::vector<int64_t>(order.begin() + start, order.begin() + end),
                                             {end - start});
      Tensor loss =
          cross_entropy(linear(index_select(x, 0, idx), weight_, bias_), index_select(labels, 0, idx));
      opt.zero_grad();
      loss.backward();
      opt.step();
      total += loss.item();
      ++batches;
    }
    last_loss = total / double(batches);
    SSL_CHECK(std::isfinite(last_loss), "linear probe: the loss became ", last_loss, " at epoch ", epoch + 1,
              " (lr ", o.lr, "); try a lower --lr");
    progress.update(epoch + 1, last_loss, n);
  }
  progress.finish();
  weight_ = weight_.detach();
  bias_ = bias_.detach();
}

Tensor LinearProbe::scaled(const Tensor& x) const { return scale_ == 1.0 ? x : mul(x, scale_); }

Tensor LinearProbe::standardise(const Tensor& x) const {
  NoGradGuard no_grad;
  return mul(sub(scaled(x), mean_), inv_std_);
}

Tensor LinearProbe::scores(const Tensor& x) const {
  NoGradGuard no_grad;
  return linear(standardise(x), weight_, bias_);
}

TopK LinearProbe::evaluate(const Tensor& x, const Tensor& labels) const {
  return topk_accuracy(scores(x), labels);
}

}  // namespace ssl
