// Forward cost of a model: multiply-accumulates (MACs) of its convolutions, transposed convolutions, linear
// layers and matrix products at a given input shape, and FLOPs = 2·MACs (the convention of the papers'
// "mult-adds" tables, e.g. ResNet-18 at 224×224: 1.81 G MACs). Batch norm, activations, pooling, additions
// and bias terms are not counted.
//
// How: the model runs once on a zero input of that shape in evaluation mode, so BN running statistics do not
// change, and is then put back in the mode of its own flag, every submodule with it (a submodule put in
// evaluation mode inside a training model comes back training); the autograd graph of that forward is walked:
// each node knows its op, its output shape and (through its edges) its inputs' shapes, so the count does
// not depend on how the model's modules are nested. Requires grad mode on and the model's weights
// requiring grad (as parameters do), otherwise throws ssl::Error.
#pragma once

#include "nn/module.h"

namespace ssl::nn {

struct ForwardCost {
  int64_t macs = 0;
  int64_t flops() const { return 2 * macs; }
};

// input_shape includes the batch: {1, 3, 224, 224} for one image; the cost scales with the batch.
ForwardCost forward_cost(Module& model, const Shape& input_shape);
// FLOPs for one square image: forward_cost(model, {1, channels, image_size, image_size}).flops().
int64_t forward_flops(Module& model, int64_t image_size, int64_t channels = 3);

}  // namespace ssl::nn
