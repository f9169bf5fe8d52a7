#include "core/autograd.h"

#include <unordered_map>

#include "core/ops.h"

namespace ssl {

namespace {
thread_local bool g_grad_enabled = true;
}

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }

Node::~Node() {
  // Each node's inputs are moved onto a worklist before its closure is freed, so that the tensors the closure
  // held, whose own nodes are among those inputs, do not free them from inside this call.
  std::vector<std::shared_ptr<Node>> worklist;
  const auto release = [&](Node& n) {
    for (Edge& e : n.edges)
      if (e.node) worklist.push_back(std::move(e.node));
    n.backward = nullptr;
  };
  release(*this);
  while (!worklist.empty()) {
    std::shared_ptr<Node> n = std::move(worklist.back());
    worklist.pop_back();
    if (n.use_count() == 1) release(*n);  // the last owner: its destructor below then has nothing to follow
  }
}

Tensor record(const char* op, Tensor output, const std::vector<Tensor>& inputs, BackwardFn backward) {
  return record(op, std::move(output), inputs, {}, std::move(backward));
}

Tensor record(const char* op, Tensor output, const std::vector<Tensor>& inputs,
              const std::vector<Tensor>& saved, BackwardFn backward) {
  if (!g_grad_enabled) return output;
  bool any = false;
  for (const Tensor& t : inputs) any = any || (t.defined() && t.requires_grad());
  if (!any) return output;

  auto node = std::make_shared<Node>();
  node->op = op;
  node->backward = std::move(backward);
  node->output_shape = output.shape();
  for (const Tensor& t : saved)
    if (t.defined()) node->saved_versions.emplace_back(t.storage(), t.storage()->version());
  node->edges.reserve(inputs.size());
  for (const Tensor& t : inputs) {
    Edge e;
    if (t.defined() && t.requires_grad()) {
      if (t.grad_fn()) {
        e.node = t.grad_fn();
      } else {
        e.leaf = t.impl_ptr();
      }
    }
    node->edges.push_back(std::move(e));
  }
  output.impl()->grad_fn = std::move(node);
  output.impl()->requires_grad = true;
  return output;
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  const int64_t lead = grad.dim() - int64_t(shape.size());
  SSL_CHECK(lead >= 0, "sum_to: cannot reduce ", grad.shape(), " to ", shape);
  std::vector<int64_t> dims;
  for (int64_t i = 0; i < grad.dim(); ++i) {
    if (i < lead || (shape[i - lead] == 1 && grad.size(i) != 1)) dims.push_back(i);
  }
  Tensor r = dims.empty() ? grad : sum(grad, dims, /*keepdim=*/true);
  return r.reshape(shape);
}

namespace {

// Reverse topological order of the nodes reachable from `root` (iterative DFS; graphs can be deep).
std::vector<Node*> topological_order(Node* root) {
  std::vector<Node*> order;
  std::unordered_map<Node*, bool> visited;
  std::vector<std::pair<Node*, size_t>> stack{{root, 0}};
  visited[root] = true;
  while (!stack.empty()) {
    auto& [node, next_edge] = stack.back();
    if (next_edge < node->edges.size()) {
      Node* child = node->edges[next_edge++].node.get();
      if (child && !visited[child]) {
        visited[child] = true;
        stack.push_back({child, 0});
      }
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }
  return {order.rbegin(), order.rend()};  // root first
}

void accumulate(Tensor& slot, const Tensor& g) { slot = slot.defined() ? add(slot, g) : g; }

// Whether another handle than the one passed holds the gradient, or another tensor its storage: the caller's
// (backward(g)), the node's incoming gradient handed through unchanged (add's, to both inputs), a view of a
// leaf's values.
bool held_elsewhere(const Tensor& g) { return g.impl_ptr().use_count() > 1 || g.storage().use_count() > 1; }

void accumulate_into_leaf(TensorImpl* leaf, const Tensor& g) {
  SSL_CHECK(g.shape() == leaf->shape, "backward: gradient of shape ", g.shape(), " for a leaf of shape ",
            leaf->shape);
  Tensor grad(leaf->grad);
  if (grad.defined()) {
    leaf->grad = add(grad, g).impl_ptr();  // out of place: a gradient the caller holds is never written to
    return;
  }
  // A leaf's gradient is its own: an optimizer step writes the parameter and a user may write the gradient
  // (grad().fill_), neither of which may show through another tensor. A fresh result nothing else holds is
  // kept as it is; anything else, or a broadcast view with stride 0 (sum's backward expands its input's
  // gradient; optimizers and kernels read a leaf's gradient as a flat array), is copied.
  leaf->grad = (g.is_contiguous() && !held_elsewhere(g) ? g : g.clone()).impl_ptr();
}

}  // namespace

void run_backward(const Tensor& root, const Tensor& grad_in, bool retain_graph) {
  SSL_CHECK(root.defined(), "backward: called on an undefined tensor");
  SSL_CHECK(
      root.requires_grad(),
      "backward: the tensor does not require grad (no parameter or input with requires_grad reached it)");
  Tensor grad = grad_in;
  if (!grad.defined()) {
    SSL_CHECK(root.numel() == 1, "backward: called on a tensor of shape ", root.shape(),
              " without a gradient; pass d(loss)/d(tensor) of the same shape, or call it on a scalar loss");
    grad = Tensor::ones(root.shape(), root.dtype(), root.device());
  }
  SSL_CHECK(grad.shape() == root.shape() && grad.dtype() == root.dtype() && grad.device() == root.device(),
            "backward: gradient of shape ", grad.shape(), ", ", grad.dtype(), " on ", grad.device(),
            " for a tensor of shape ", root.shape(), ", ", root.dtype(), " on ", root.device());
  // Backward formulas are made of ordinary ops: with recording off they add nothing to the graph (there
  // are no gradients of gradients).
  NoGradGuard no_grad;
  if (!root.grad_fn()) {
    accumulate_into_leaf(root.impl(), grad);
    return;
  }

  std::unordered_map<Node*, Tensor> grads;
  grads[root.grad_fn().get()] = grad;
  for (Node* node : topological_order(root.grad_fn().get())) {
    auto it = grads.find(node);
    if (it == grads.end()) continue;  // no gradient flowed here
    const Tensor g = std::move(it->second);
    grads.erase(it);
    SSL_CHECK(node->backward, "backward: the graph through '", node->op,
              "' was already freed by an earlier backward(); pass retain_graph=true to the first call "
              "if you need to go backward through it twice");
    for (const auto& [storage, version] : node->saved_versions)
      SSL_CHECK(storage->version() == version, "backward: a tensor that '", node->op,
                "' saved for its gradient was written in place after the op ran (version ", version, ", now ",
                storage->version(),
                "; fill_, copy_ or an optimizer step); run the forward again after the change, or change a "
                "clone()");
    std::vector<bool> needs(node->edges.size());
    for (size_t i = 0; i < needs.size(); ++i) needs[i] = node->edges[i].active();
    std::vector<Tensor> input_grads = node->backward(g, needs);
    SSL_CHECK(input_grads.size() == node->edges.size(), "backward: op '", node->op, "' returned ",
              input_grads.size(), " gradients for ", node->edges.size(), " inputs");
    if (!retain_graph) {
      node->backward = nullptr;  // frees the saved tensors
      node->saved_versions.clear();
    }
    for (size_t i = 0; i < input_grads.size(); ++i) {
      const Edge& e = node->edges[i];
      if (!e.active() || !input_grads[i].defined()) continue;
      if (e.node) {
        accumulate(grads[e.node.get()], input_grads[i]);
      } else {
        accumulate_into_leaf(e.leaf.get(), input_grads[i]);
      }
    }
  }
}

}  // namespace ssl
