// nn::Module: a named tree of parameters, buffers and submodules, with train/eval mode.
//
// Names follow PyTorch's state_dict convention ("encoder.0.weight", "bn.running_mean"), so checkpoints
// map one-to-one onto what PyTorch users know.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/ops.h"

namespace ssl::nn {

class Module {
 public:
  virtual ~Module() = default;
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }

  // Every parameter (trainable) and buffer (state such as running statistics), with its full name.
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  // The parameters for an optimizer: each tensor once, also where a shared module lists it under two names.
  std::vector<Tensor> parameters() const;
  // Parameters and buffers together, in registration order: what a checkpoint stores.
  std::vector<std::pair<std::string, Tensor>> state() const;
  int64_t parameter_count() const;

  // Moves every parameter and buffer to `device`, in place (handles held elsewhere follow).
  void to(Device device);
  // Where the parameters are (the CPU for a module without any).
  Device device() const;

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void zero_grad();

 protected:
  Tensor& register_parameter(const std::string& name, Tensor t);
  Tensor& register_buffer(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    SSL_CHECK(m != nullptr, "register_module: module '", name, "' is null");
    children_.emplace_back(name, m);
    return m;
  }

 private:
  void collect(const std::string& prefix, bool params, bool buffers,
               std::vector<std::pair<std::string, Tensor>>& out) const;

  // Kept in registration order (a std::map would sort "10" before "2").
  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

using ModulePtr = std::shared_ptr<Module>;

// Puts `module` in evaluation mode for a scope and gives it back the mode it had when the scope ends, by an
// exception too.
class EvalModeGuard {
 public:
  explicit EvalModeGuard(Module& module) : module_(module), was_training_(module.is_training()) {
    module.eval();
  }
  ~EvalModeGuard() { module_.train(was_training_); }
  EvalModeGuard(const EvalModeGuard&) = delete;
  EvalModeGuard& operator=(const EvalModeGuard&) = delete;

 private:
  Module& module_;
  bool was_training_;
};

}  // namespace ssl::nn
