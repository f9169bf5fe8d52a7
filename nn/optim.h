// Optimizers. `step()` reads each parameter's .grad and updates the parameter in place; parameters
// without a gradient are skipped. Hyper-parameters are public so schedules can change them. A parameter's
// state follows it to the device it is on at each step, so a model may be moved after its optimizer is built.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace ssl::nn {

// Everything an optimizer's future steps depend on besides the parameters themselves, for exact resume.
// Tensor names are stable and PyTorch-like: "state.<param_index>.<name>", with <name> one of
// momentum_buffer (SGD, LARS), exp_avg, exp_avg_sq and step (Adam, AdamW: the parameter's own update count,
// one int64; a state without it gives every parameter the optimizer's step count). SGD stores a parameter's
// momentum_buffer only once it has started (as PyTorch leaves it None before), so the "started" flag is its
// presence.
struct OptimizerState {
  std::string kind;  // "sgd", "adam", "adamw" or "lars"
  int64_t steps = 0;
  int64_t param_count = 0;
  std::map<std::string, double> hyper_parameters;       // lr, momentum, beta1, ... (bools as 0/1)
  std::vector<std::pair<std::string, Tensor>> tensors;  // copies, independent of the optimizer
};

class Optimizer {
 public:
  explicit Optimizer(std::vector<Tensor> params);
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  void zero_grad();
  double lr = 0;
  int64_t steps_taken() const { return steps_; }

  virtual std::string kind() const = 0;
  // A snapshot of the state (tensors copied).
  OptimizerState export_state() const;
  // The name ("state.<param_index>.<name>") of the first state tensor holding a NaN or an infinity, or ""
  // when all are finite: Adam's second moments can overflow while the weights it updates stay finite.
  std::string non_finite_state() const;
  // Restores a snapshot taken from an optimizer of the same kind over parameters of the same shapes:
  // hyper-parameters, step counter and every state tensor. Requires every expected tensor with its shape
  // and dtype and nothing left over; otherwise throws ssl::Error naming `source` (e.g. the file) and the
  // tensor. On error the optimizer is left unchanged.
  void import_state(const OptimizerState& state, const std::string& source = "optimizer state");

 protected:
  // Per-optimizer parts of export/import. import_hyper_parameters receives a map already checked to have
  // exactly the keys export_hyper_parameters gives.
  virtual std::map<std::string, double> export_hyper_parameters() const = 0;
  virtual void import_hyper_parameters(const std::map<std::string, double>& h) = 0;
  // Throws ssl::Error, naming `who`, unless `h` (export_hyper_parameters' keys and "lr") holds values the
  // optimizer can step with: the constructor's check, made again on a snapshot before it is imported.
  virtual void check_hyper_parameters(const std::map<std::string, double>& h,
                                      const std::string& who) const = 0;
  std::map<std::string, double> hyper_parameters_with_lr() const;
  // Handles to parameter i's state tensors by name ("momentum_buffer", ...); they share storage with the
  // optimizer's, so import copies into them in place.
  virtual std::vector<std::pair<std::string, Tensor>> state_slots(size_t i) const = 0;
  // Whether a slot may be absent from a snapshot, and what absence means (SGD: buffer not started).
  virtual bool slot_present(size_t /*i*/, const std::string& /*name*/) const { return true; }
  virtual void set_slot_present(size_t /*i*/, const std::string& /*name*/, bool /*present*/) {}
  virtual bool slot_optional(const std::string& /*name*/) const { return false; }

  std::vector<Tensor> params_;
  int64_t steps_ = 0;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, double lr, double momentum = 0, double weight_decay = 0,
      bool nesterov = false);
  void step() override;
  std::string kind() const override { return "sgd"; }
  double momentum, weight_decay;
  bool nesterov;

 protected:
  std::map<std::string, double> export_hyper_parameters() const override;
  void import_hyper_parameters(const std::map<std::string, double>& h) override;
  void check_hyper_parameters(const std::map<std::string, double>& h, const std::string& who) const override;
  std::vector<std::pair<std::string, Tensor>> state_slots(size_t i) const override;
  bool slot_present(size_t i, const std::string& name) const override;
  void set_slot_present(size_t i, const std::string& name, bool present) override;
  bool slot_optional(const std::string& name) const override { return name == "momentum_buffer"; }

 private:
  std::vector<Tensor> momentum_buffers_;
  std::vector<bool> buffer_started_;  // a buffer starts as the first gradient its parameter receives
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, double lr, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
       double weight_decay = 0);
  void step() override;
  std::string kind() const override { return decoupled_weight_decay_ ? "adamw" : "adam"; }
  double beta1, beta2, eps, weight_decay;

 protected:
  std::map<std::string, double> export_hyper_parameters() const override;
  void import_hyper_parameters(const std::map<std::string, double>& h) override;
  void check_hyper_parameters(const std::map<std::string, double>& h, const std::string& who) const override;
  std::vector<std::pair<std::string, Tensor>> state_slots(size_t i) const override;
  void set_slot_present(size_t i, const std::string& name, bool present) override;
  bool slot_optional(const std::string& name) const override { return name == "step"; }

  bool decoupled_weight_decay_ = false;  // AdamW

 private:
  std::vector<Tensor> m_, v_;
  std::vector<Tensor> param_steps_;  // one int64 each, on the CPU: updates each parameter has taken
};

// Adam with decoupled weight decay (Loshchilov & Hutter): the decay shrinks the weights directly instead of
// entering the gradient's moments.
class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, double lr, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
        double weight_decay = 0.01);
};

// LARS (You et al., 2017) as SimCLR uses it: each weight tensor's step is scaled by the trust ratio
// eta·‖w‖/‖g + wd·w‖. Biases and BatchNorm parameters — every 1-D parameter — are excluded from both the
// adaptation and the weight decay.
class LARS : public Optimizer {
 public:
  LARS(std::vector<Tensor> params, double lr, double momentum = 0.9, double weight_decay = 1e-6,
       double eta = 0.001, bool nesterov = false);
  void step() override;
  std::string kind() const override { return "lars"; }
  double momentum, weight_decay, eta;
  bool nesterov;

 protected:
  std::map<std::string, double> export_hyper_parameters() const override;
  void import_hyper_parameters(const std::map<std::string, double>& h) override;
  void check_hyper_parameters(const std::map<std::string, double>& h, const std::string& who) const override;
  std::vector<std::pair<std::string, Tensor>> state_slots(size_t i) const override;

 private:
  std::vector<Tensor> momentum_buffers_;
};

// Scales every gradient by min(1, max_norm / ‖all gradients‖) and returns that global norm (before clipping).
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);

}  // namespace ssl::nn
