// The SGAN's loss terms, declared and explained in ssl/sgan.h.
#include "ssl/sgan.h"

#include "core/ops_nn.h"

namespace ssl {

FakeLogit parse_fake_logit(const std::string& name) {
  if (name == "fixed") return FakeLogit::fixed;
  if (name == "explicit") return FakeLogit::explicit_logit;
  throw Error(str_cat("sgan: unknown fake logit '", name, "'; expected fixed or explicit"));
}

// ---- loss terms ------------------------------------------------------------------------------------------

namespace {

// log Σ_j exp(x_ij) of each row of x [N, C], as [N]. The row maximum is taken out for stability; it is
// detached because the gradient of log-sum-exp does not depend on it.
Tensor logsumexp_rows(const Tensor& x) {
  const Tensor m = max(x, 1, /*keepdim=*/true).detach();
  return log(sum(exp(x - m), {1})) + m.squeeze(1);
}

// log(1 + e^a) = m + log(e^−m + e^(a−m)) with m = max(a, 0) held constant: finite for any a, and the
// gradient, e^(a−m) / (e^−m + e^(a−m)), is sigmoid(a) everywhere, ½ at a = 0 included.
Tensor softplus(const Tensor& a) {
  const Tensor m = relu(a).detach();
  return m + log(exp(-m) + exp(a - m));
}

void check_logits(const Tensor& logits, const char* what) {
  SSL_CHECK(logits.defined() && logits.dim() == 2 && logits.size(1) >= 2, what,
            ": expected logits [N, K+1] with K >= 1, got ", logits.defined() ? logits.shape() : Shape{});
}

}  // namespace

Tensor real_logits(const Tensor& logits) { return logits.slice(1, 0, logits.size(1) - 1); }

Tensor sgan_supervised_loss(const Tensor& logits, const Tensor& labels) {
  check_logits(logits, "sgan_supervised_loss");
  return cross_entropy(real_logits(logits), labels);
}

Tensor sgan_unlabelled_loss(const Tensor& logits, FakeLogit form) {
  check_logits(logits, "sgan_unlabelled_loss");
  const Tensor lse = logsumexp_rows(real_logits(logits));
  // −log D(x) = −log(Z / (Z + 1)) = −lse + log(1 + Z).
  if (form == FakeLogit::fixed) return mean(softplus(lse) - lse);
  // −log(1 − p_fake) = log Σ_{k≤K} e^{l_k} − log Σ_{k<K} e^{l_k}.
  return mean(logsumexp_rows(logits) - lse);
}

Tensor sgan_fake_loss(const Tensor& logits, FakeLogit form) {
  check_logits(logits, "sgan_fake_loss");
  // −log(1 − D(x)) = log(1 + Z).
  if (form == FakeLogit::fixed) return mean(softplus(logsumexp_rows(real_logits(logits))));
  // −log p_fake = log Σ_{k≤K} e^{l_k} − l_K.
  return mean(logsumexp_rows(logits) - logits.select(1, logits.size(1) - 1));
}

Tensor sgan_feature_matching_loss(const Tensor& real_features, const Tensor& fake_features) {
  SSL_CHECK(
      real_features.dim() >= 2 && fake_features.dim() >= 2 && real_features.size(0) >= 1 &&
          fake_features.size(0) >= 1 &&
          real_features.numel() / real_features.size(0) == fake_features.numel() / fake_features.size(0),
      "sgan_feature_matching_loss: expected two non-empty batches of features of one size, got ",
      real_features.shape(), " and ", fake_features.shape());
  return mse_loss(mean(fake_features.flatten(1), {0}), mean(real_features.flatten(1), {0}));
}

}  // namespace ssl
