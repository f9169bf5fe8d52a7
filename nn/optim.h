// Optimizers. `step()` reads each parameter's .grad and updates the parameter in place; parameters
// without a gradient are skipped. Hyper-parameters are public so schedules can change them.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace ssl::nn {

class Optimizer {
 public:
  explicit Optimizer(std::vector<Tensor> params);
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  void zero_grad();
  double lr = 0;
  int64_t steps_taken() const { return steps_; }

 protected:
  std::vector<Tensor> params_;
  int64_t steps_ = 0;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, double lr, double momentum = 0, double weight_decay = 0,
      bool nesterov = false);
  void step() override;
  double momentum, weight_decay;
  bool nesterov;

 private:
  std::vector<Tensor> momentum_buffers_;
  std::vector<bool> buffer_started_;  // a buffer starts as the first gradient its parameter receives
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, double lr, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
       double weight_decay = 0);
  void step() override;
  double beta1, beta2, eps, weight_decay;

 protected:
  bool decoupled_weight_decay_ = false;  // AdamW

 private:
  std::vector<Tensor> m_, v_;
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
  double momentum, weight_decay, eta;
  bool nesterov;

 private:
  std::vector<Tensor> momentum_buffers_;
};

// Scales every gradient by min(1, max_norm / ‖all gradients‖) and returns that global norm (before clipping).
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);

}  // namespace ssl::nn
