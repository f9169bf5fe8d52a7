#include "nn/flops.h"

#include <string>
#include <unordered_set>

namespace ssl::nn {

namespace {
// The shape of the tensor that flowed along an edge.
const Shape& edge_shape(const Node& node, size_t i) {
  SSL_CHECK(i < node.edges.size() && node.edges[i].active(), "forward_cost: input ", i, " of ", node.op,
            " is not tracked by autograd (a frozen weight?); cannot tell its shape");
  const Edge& e = node.edges[i];
  return e.node ? e.node->output_shape : e.leaf->shape;
}

int64_t node_macs(const Node& n) {
  const int64_t out = numel_of(n.output_shape);
  if (n.op == "conv2d") {  // w [c_out, c_in/groups, kh, kw]: each output sums c_in/groups·kh·kw products
    const Shape& w = edge_shape(n, 1);
    return out * w[1] * w[2] * w[3];
  }
  if (n.op == "conv_transpose2d") {  // w [c_in, c_out/groups, kh, kw]: each input scatters that many
    const Shape& x = edge_shape(n, 0);
    const Shape& w = edge_shape(n, 1);
    return numel_of(x) * w[1] * w[2] * w[3];
  }
  if (n.op == "linear") return out * edge_shape(n, 1).back();  // w [out, in]
  if (n.op == "matmul") return out * edge_shape(n, 0).back();  // a [..., M, K]
  return 0;
}
}  // namespace

ForwardCost forward_cost(Module& model, const Shape& input_shape) {
  SSL_CHECK(grad_enabled(), "forward_cost: needs grad mode on (it reads the autograd graph of one forward)");
  Tensor y;
  {
    EvalModeGuard eval(model);
    Tensor x = Tensor::zeros(input_shape);
    x.set_requires_grad(true);
    y = model.forward(x);
  }

  ForwardCost cost;
  std::unordered_set<const Node*> seen;
  std::vector<const Node*> stack;
  if (y.grad_fn()) stack.push_back(y.grad_fn().get());
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    if (!seen.insert(n).second) continue;
    cost.macs += node_macs(*n);
    for (const Edge& e : n->edges)
      if (e.node) stack.push_back(e.node.get());
  }
  return cost;
}

int64_t forward_flops(Module& model, int64_t image_size, int64_t channels) {
  return forward_cost(model, {1, channels, image_size, image_size}).flops();
}

}  // namespace ssl::nn
