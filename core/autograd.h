// Dynamic reverse-mode autograd.
//
// Every differentiable op that sees an input requiring grad (with grad mode on) records a Node on its
// output. The node holds one Edge per input (where that input's gradient goes) and a closure that maps the
// output's gradient to the inputs' gradients; the closure captures exactly the tensors its formula needs.
// `Tensor::backward()` visits the nodes in reverse topological order, sums the gradients that meet at a
// node, stores the leaves' gradients in `.grad`, and frees each closure after it ran (unless retained).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace ssl {

// Where one input's gradient goes: to the node that produced it, or, for a leaf, into its .grad.
struct Edge {
  std::shared_ptr<Node> node;
  std::shared_ptr<TensorImpl> leaf;
  bool active() const { return node || leaf; }
};

// The gradients of an op's inputs, given the gradient of its output; `needs[i]` says whether input i
// wants one (return an undefined Tensor where it does not).
using BackwardFn =
    std::function<std::vector<Tensor>(const Tensor& grad_output, const std::vector<bool>& needs)>;

struct Node {
  std::string op;           // the op's name, for error messages
  std::vector<Edge> edges;  // one per input, in the op's argument order
  BackwardFn backward;      // empty once freed
  Shape output_shape;       // for the FLOP counter (nn/flops.cpp)
  // The storage of each tensor the closure reads values from, and its version when the op ran.
  std::vector<std::pair<std::shared_ptr<Storage>, uint64_t>> saved_versions;

  // Frees the nodes only this one holds without recursion: a chain of 100,000s of ops would otherwise
  // free node after node in nested destructor calls until the stack overflowed.
  ~Node();
};

// Grad mode: on by default, per thread.
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Attaches a node for `op` to `output` when grad mode is on and any of `inputs` requires grad; returns
// `output`. Ops call this after computing their forward result. A closure that needs the output holds it as
// `y.detach()`: the output owns its node, which owns the closure, so holding the output itself would make a
// cycle that is never freed. Ops also detach an input before `contiguous()`, so that the copy it may make
// is not recorded as a node of its own.
Tensor record(const char* op, Tensor output, const std::vector<Tensor>& inputs, BackwardFn backward);
// The same for a backward that reads values: `saved` lists the tensors it reads (inputs or the output, as
// the closure holds them; not those it takes only a shape from). Writing one of them in place before the
// backward runs makes the backward throw, naming the op, instead of computing a gradient from the new values
// (PyTorch's "modified by an inplace operation").
Tensor record(const char* op, Tensor output, const std::vector<Tensor>& inputs,
              const std::vector<Tensor>& saved, BackwardFn backward);

// Sums `grad` (shaped like a broadcast result) down to `shape`: the gradient of broadcasting.
Tensor sum_to(const Tensor& grad, const Shape& shape);

// Runs backward from `root` with d(loss)/d(root) = grad.
void run_backward(const Tensor& root, const Tensor& grad, bool retain_graph);

}  // namespace ssl
