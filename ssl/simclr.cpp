#include "ssl/simclr.h"

#include <cmath>

namespace ssl {

SimCLR::SimCLR(nn::EncoderPtr enc, const SimCLROptions& o) : options(o) {
  SSL_CHECK(o.temperature > 0 && std::isfinite(o.temperature),
            "SimCLR: temperature must be > 0 and finite, got ", o.temperature);
  encoder = register_module("encoder", std::move(enc));
  head = register_module("head", nn::projection_head(encoder->feature_dim, o.head_hidden, o.head_out));
  if (o.probe_classes > 0)
    probe = register_module("probe", std::make_shared<nn::Linear>(encoder->feature_dim, o.probe_classes));
}

Tensor SimCLR::forward(const Tensor& views) {
  SSL_CHECK(views.dim() == 4 && views.size(0) >= 2 && views.size(0) % 2 == 0,
            "SimCLR: expected [2N, C, H, W] (two views per image), got ", views.shape());
  return ntxent(head->forward(encoder->forward(views)), options.temperature, options.cross_view_only);
}

Tensor SimCLR::loss(const data::Batch& batch, const StepContext& context) {
  Tensor total = forward(batch.images);
  if (!probe) return total;
  SSL_CHECK(context.labelled, "SimCLR: the joint probe needs a labelled batch in every step");
  const data::Batch& l = *context.labelled;
  // The probe reads the encoder as an evaluation does, in eval mode and without a graph: no gradient
  // reaches the encoder, and the labelled batch does not move batch norm's running statistics.
  Tensor features;
  {
    NoGradGuard no_grad;
    nn::EvalModeGuard eval(*encoder);
    features = encoder->forward(l.images);
  }
  return add(total, classification_loss(probe->forward(features), l.labels));
}

}  // namespace ssl
