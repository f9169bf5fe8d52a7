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

 private:
  std::vector<Tensor> m_, v_;
};

}  // namespace ssl::nn
