#include "ssl/simclr.h"

namespace ssl {

SimCLR::SimCLR(nn::EncoderPtr enc, const SimCLROptions& o) : options(o) {
  encoder = register_module("encoder", std::move(enc));
  head = register_module("head", nn::projection_head(encoder->feature_dim, o.head_hidden, o.head_out));
}

Tensor SimCLR::forward(const Tensor& views) {
  SSL_CHECK(views.dim() == 4 && views.size(0) >= 2 && views.size(0) % 2 == 0,
            "SimCLR: expected [2N, C, H, W] (two views per image), got ", views.shape());
  return ntxent(head->forward(encoder->forward(views)), options.temperature, options.cross_view_only);
}

}  // namespace ssl
