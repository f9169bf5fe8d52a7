#include "nn/optim.h"

#include <cmath>
#include <set>
#include <tuple>

#include "core/ops.h"
#include "core/ops/op_helpers.h"
#include "kernels/cuda/optim.h"
#include "kernels/optim.h"

namespace ssl::nn {

namespace {
// A parameter's gradient as a contiguous tensor, checked against the parameter's shape and dtype.
Tensor gradient_of(const Tensor& p) {
  const Tensor g = p.grad().contiguous();
  SSL_CHECK(g.shape() == p.shape() && g.dtype() == p.dtype(), "optimizer: gradient of shape ", g.shape(),
            " (", g.dtype(), ") for a parameter of shape ", p.shape(), " (", p.dtype(), ")");
  return g;
}

// A parameter's per-element state (momentum, moments) where the parameter is now: Module::to moves
// parameters in place, so a model moved after its optimizer was built takes the state along at the next step
// instead of handing a kernel pointers to the other device's memory.
template <class T>
T* state_beside(Tensor& state, const Tensor& param) {
  if (state.device() != param.device()) state.to_(param.device());
  return state.data<T>();
}
// The loop every step() runs: update(i, p, g) for each parameter p (index i) that has a gradient g, with
// recording off; then p is marked as written in place, so that a graph that saved it can no longer go
// backward.
template <class Update>
void update_each(std::vector<Tensor>& params, Update update) {
  NoGradGuard no_grad;
  for (size_t i = 0; i < params.size(); ++i) {
    Tensor& p = params[i];
    if (!p.grad().defined()) continue;
    update(i, p, gradient_of(p));
    p.storage()->bump_version();
  }
}

}  // namespace

Optimizer::Optimizer(std::vector<Tensor> params) : params_(std::move(params)) {
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    SSL_CHECK(p.is_contiguous(), "optimizer: parameter ", i, " of shape ", p.shape(),
              " is not contiguous; give the optimizer the tensor itself, not a view of it");
    SSL_CHECK(p.device() == params_[0].device(), "optimizer: parameter ", i, " is on ", p.device().str(),
              " but parameter 0 is on ", params_[0].device().str(), "; move the model to one device first");
    for (size_t j = 0; j < i; ++j)
      SSL_CHECK(params_[j].impl_ptr() != p.impl_ptr(), "optimizer: parameters ", j, " and ", i,
                " are the same tensor, which would be stepped twice; give each parameter once");
  }
}

void Optimizer::zero_grad() {
  for (Tensor& p : params_) p.zero_grad();
}

std::string Optimizer::non_finite_state() const {
  for (size_t i = 0; i < params_.size(); ++i)
    for (const auto& [name, t] : state_slots(i))
      if (slot_present(i, name) && first_non_finite(t) >= 0) return str_cat("state.", i, ".", name);
  return "";
}

OptimizerState Optimizer::export_state() const {
  OptimizerState s;
  s.kind = kind();
  s.steps = steps_;
  s.param_count = int64_t(params_.size());
  s.hyper_parameters = export_hyper_parameters();
  s.hyper_parameters["lr"] = lr;
  for (size_t i = 0; i < params_.size(); ++i)
    for (const auto& [name, t] : state_slots(i))
      if (slot_present(i, name)) s.tensors.emplace_back(str_cat("state.", i, ".", name), t.clone().detach());
  return s;
}

std::map<std::string, double> Optimizer::hyper_parameters_with_lr() const {
  std::map<std::string, double> h = export_hyper_parameters();
  h["lr"] = lr;
  return h;
}

namespace {
bool finite_at_least_0(double v) { return std::isfinite(v) && v >= 0; }
// A flag stored as a number: 0 or 1, nothing else.
bool is_flag(double v) { return v == 0 || v == 1; }
}  // namespace

void Optimizer::import_state(const OptimizerState& s, const std::string& source) {
  // Validate everything first, so that a bad snapshot leaves the optimizer as it was.
  SSL_CHECK(s.kind == kind(), source, ": the optimizer state is for '", s.kind, "' but this optimizer is '",
            kind(), "'");
  SSL_CHECK(s.param_count == int64_t(params_.size()), source, ": the optimizer state covers ", s.param_count,
            " parameters but this optimizer has ", params_.size());
  SSL_CHECK(s.steps >= 0, source, ": negative optimizer step count ", s.steps);
  const std::map<std::string, double> expected = hyper_parameters_with_lr();
  for (const auto& [key, value] : expected)
    SSL_CHECK(s.hyper_parameters.count(key), source, ": the optimizer state lacks hyper-parameter '", key,
              "'");
  for (const auto& [key, value] : s.hyper_parameters)
    SSL_CHECK(expected.count(key), source, ": unknown optimizer hyper-parameter '", key, "' for ", kind());
  check_hyper_parameters(s.hyper_parameters, str_cat(source, ": ", kind()));

  std::map<std::string, const Tensor*> stored;
  for (const auto& [name, t] : s.tensors) {
    SSL_CHECK(stored.emplace(name, &t).second, source, ": optimizer tensor '", name, "' appears twice");
  }
  std::set<std::string> used;
  std::vector<std::pair<Tensor, const Tensor*>> copies;  // (destination, source)
  std::vector<std::tuple<size_t, std::string, bool>> presence;
  for (size_t i = 0; i < params_.size(); ++i) {
    for (const auto& [slot, target] : state_slots(i)) {
      const std::string name = str_cat("state.", i, ".", slot);
      auto it = stored.find(name);
      if (it == stored.end()) {
        SSL_CHECK(slot_optional(slot), source, ": the optimizer expects tensor '", name,
                  "' but the state does not have it");
        presence.emplace_back(i, slot, false);
        continue;
      }
      const Tensor& t = *it->second;
      SSL_CHECK(t.shape() == target.shape() && t.dtype() == target.dtype(), source, ": optimizer tensor '",
                name, "' is ", dtype_name(t.dtype()), " ", t.shape(), " but the parameter needs ",
                dtype_name(target.dtype()), " ", target.shape());
      copies.emplace_back(target, &t);
      presence.emplace_back(i, slot, true);
      used.insert(name);
    }
  }
  for (const auto& [name, t] : stored)
    SSL_CHECK(used.count(name), source, ": optimizer tensor '", name, "' matches no state of this ", kind(),
              " optimizer");

  NoGradGuard no_grad;
  steps_ = s.steps;  // before the slots: an absent slot may start from the step count (Adam's "step")
  for (auto& [dst, src] : copies) dst.copy_(*src);
  for (const auto& [i, slot, present] : presence) set_slot_present(i, slot, present);
  import_hyper_parameters(s.hyper_parameters);
  lr = s.hyper_parameters.at("lr");
}

SGD::SGD(std::vector<Tensor> params, double lr_, double momentum_, double wd, bool nesterov_)
    : Optimizer(std::move(params)), momentum(momentum_), weight_decay(wd), nesterov(nesterov_) {
  lr = lr_;
  check_hyper_parameters(hyper_parameters_with_lr(), "SGD");
  for (const Tensor& p : params_)
    momentum_buffers_.push_back(Tensor::zeros(p.shape(), p.dtype(), p.device()));
  buffer_started_.assign(params_.size(), false);
}

void SGD::step() {
  update_each(params_, [&](size_t i, Tensor& p, const Tensor& g) {
    dispatch_floating(p.dtype(), "SGD", [&]<class T>() {
      T* buf = state_beside<T>(momentum_buffers_[i], p);
      const bool first = !buffer_started_[i];
      detail::on_device(
          p.device(),
          [&] {
            kernels::cpu::sgd_step<T>(p.numel(), p.data<T>(), g.data<T>(), buf, T(lr), T(momentum),
                                      T(weight_decay), nesterov, first);
          },
          [&] {
            kernels::cuda::sgd_step<T>(p.numel(), p.data<T>(), g.data<T>(), buf, T(lr), T(momentum),
                                       T(weight_decay), nesterov, first);
          });
    });
    buffer_started_[i] = true;
  });
  ++steps_;
}

std::map<std::string, double> SGD::export_hyper_parameters() const {
  return {{"momentum", momentum}, {"weight_decay", weight_decay}, {"nesterov", nesterov ? 1.0 : 0.0}};
}
void SGD::check_hyper_parameters(const std::map<std::string, double>& h, const std::string& who) const {
  SSL_CHECK(finite_at_least_0(h.at("lr")) && finite_at_least_0(h.at("momentum")) &&
                finite_at_least_0(h.at("weight_decay")),
            who, ": need lr, momentum and weight decay >= 0; got lr ", h.at("lr"), ", momentum ",
            h.at("momentum"), ", weight decay ", h.at("weight_decay"));
  SSL_CHECK(is_flag(h.at("nesterov")) && (h.at("nesterov") == 0 || h.at("momentum") > 0), who,
            ": Nesterov momentum needs momentum > 0 (nesterov is 0 or 1; got ", h.at("nesterov"), ")");
}
void SGD::import_hyper_parameters(const std::map<std::string, double>& h) {
  momentum = h.at("momentum");
  weight_decay = h.at("weight_decay");
  nesterov = h.at("nesterov") != 0;
}
std::vector<std::pair<std::string, Tensor>> SGD::state_slots(size_t i) const {
  return {{"momentum_buffer", momentum_buffers_[i]}};
}
bool SGD::slot_present(size_t i, const std::string&) const { return buffer_started_[i]; }
void SGD::set_slot_present(size_t i, const std::string&, bool present) {
  buffer_started_[i] = present;
  // An absent buffer restarts from the next gradient; zero it so the state equals a fresh optimizer's.
  if (!present) Tensor(momentum_buffers_[i]).fill_(0);
}

Adam::Adam(std::vector<Tensor> params, double lr_, double b1, double b2, double eps_, double wd)
    : Optimizer(std::move(params)), beta1(b1), beta2(b2), eps(eps_), weight_decay(wd) {
  lr = lr_;
  check_hyper_parameters(hyper_parameters_with_lr(), "Adam");
  for (const Tensor& p : params_) {
    m_.push_back(Tensor::zeros(p.shape(), p.dtype(), p.device()));
    v_.push_back(Tensor::zeros(p.shape(), p.dtype(), p.device()));
    param_steps_.push_back(Tensor::zeros({1}, DType::i64));
  }
}

void Adam::step() {
  update_each(params_, [&](size_t i, Tensor& p, const Tensor& g) {
    // Bias correction counts this parameter's own updates: one that first gets a gradient at step 5 takes
    // its first step as a first step (1 - beta^1), as PyTorch's per-parameter state['step'] does.
    const int64_t t = ++param_steps_[i].data<int64_t>()[0];
    dispatch_floating(p.dtype(), "Adam", [&]<class T>() {
      const auto update = [&](auto step) {
        step(p.numel(), p.data<T>(), g.data<T>(), state_beside<T>(m_[i], p), state_beside<T>(v_[i], p), T(lr),
             T(beta1), T(beta2), T(eps), T(weight_decay), t);
      };
      detail::on_device(
          p.device(),
          [&] { update(decoupled_weight_decay_ ? kernels::cpu::adamw_step<T> : kernels::cpu::adam_step<T>); },
          [&] {
            update(decoupled_weight_decay_ ? kernels::cuda::adamw_step<T> : kernels::cuda::adam_step<T>);
          });
    });
  });
  ++steps_;
}

std::map<std::string, double> Adam::export_hyper_parameters() const {
  return {{"beta1", beta1}, {"beta2", beta2}, {"eps", eps}, {"weight_decay", weight_decay}};
}
void Adam::check_hyper_parameters(const std::map<std::string, double>& h, const std::string& who) const {
  const double b1 = h.at("beta1"), b2 = h.at("beta2"), eps_ = h.at("eps");
  SSL_CHECK(finite_at_least_0(h.at("lr")) && b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1 && std::isfinite(eps_) &&
                eps_ > 0 && finite_at_least_0(h.at("weight_decay")),
            who, ": need lr >= 0, betas in [0, 1), eps > 0 and weight decay >= 0; got lr ", h.at("lr"),
            ", betas ", b1, ", ", b2, ", eps ", eps_, ", weight decay ", h.at("weight_decay"));
}
void Adam::import_hyper_parameters(const std::map<std::string, double>& h) {
  beta1 = h.at("beta1");
  beta2 = h.at("beta2");
  eps = h.at("eps");
  weight_decay = h.at("weight_decay");
}
std::vector<std::pair<std::string, Tensor>> Adam::state_slots(size_t i) const {
  return {{"exp_avg", m_[i]}, {"exp_avg_sq", v_[i]}, {"step", param_steps_[i]}};
}
void Adam::set_slot_present(size_t i, const std::string& name, bool present) {
  // A state saved before per-parameter counts had none: every parameter then counted the optimizer's steps.
  if (name == "step" && !present) Tensor(param_steps_[i]).fill_(double(steps_));
}

AdamW::AdamW(std::vector<Tensor> params, double lr_, double b1, double b2, double eps_, double wd)
    : Adam(std::move(params), lr_, b1, b2, eps_, wd) {
  decoupled_weight_decay_ = true;
}

LARS::LARS(std::vector<Tensor> params, double lr_, double momentum_, double wd, double eta_, bool nesterov_)
    : Optimizer(std::move(params)), momentum(momentum_), weight_decay(wd), eta(eta_), nesterov(nesterov_) {
  lr = lr_;
  check_hyper_parameters(hyper_parameters_with_lr(), "LARS");
  for (const Tensor& p : params_)
    momentum_buffers_.push_back(Tensor::zeros(p.shape(), p.dtype(), p.device()));
}

void LARS::step() {
  update_each(params_, [&](size_t i, Tensor& p, const Tensor& g) {
    const bool adapt = p.dim() > 1;  // biases and BatchNorm parameters are 1-D
    dispatch_floating(p.dtype(), "LARS", [&]<class T>() {
      T* buf = state_beside<T>(momentum_buffers_[i], p);
      detail::on_device(
          p.device(),
          [&] {
            kernels::cpu::lars_step<T>(p.numel(), p.data<T>(), g.data<T>(), buf, T(lr), T(momentum),
                                       T(weight_decay), T(eta), adapt, nesterov);
          },
          [&] {
            kernels::cuda::lars_step<T>(p.numel(), p.data<T>(), g.data<T>(), buf, T(lr), T(momentum),
                                        T(weight_decay), T(eta), adapt, nesterov);
          });
    });
  });
  ++steps_;
}

std::map<std::string, double> LARS::export_hyper_parameters() const {
  return {{"momentum", momentum},
          {"weight_decay", weight_decay},
          {"eta", eta},
          {"nesterov", nesterov ? 1.0 : 0.0}};
}
void LARS::check_hyper_parameters(const std::map<std::string, double>& h, const std::string& who) const {
  SSL_CHECK(finite_at_least_0(h.at("lr")) && finite_at_least_0(h.at("momentum")) &&
                finite_at_least_0(h.at("weight_decay")) && std::isfinite(h.at("eta")) && h.at("eta") > 0 &&
                is_flag(h.at("nesterov")),
            who, ": need lr, momentum and weight decay >= 0, eta > 0 and nesterov 0 or 1; got lr ",
            h.at("lr"), ", momentum ", h.at("momentum"), ", weight decay ", h.at("weight_decay"), ", eta ",
            h.at("eta"), ", nesterov ", h.at("nesterov"));
}
void LARS::import_hyper_parameters(const std::map<std::string, double>& h) {
  momentum = h.at("momentum");
  weight_decay = h.at("weight_decay");
  eta = h.at("eta");
  nesterov = h.at("nesterov") != 0;
}
std::vector<std::pair<std::string, Tensor>> LARS::state_slots(size_t i) const {
  return {{"momentum_buffer", momentum_buffers_[i]}};
}

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  SSL_CHECK(max_norm > 0, "clip_grad_norm: max_norm must be > 0, got ", max_norm);
  NoGradGuard no_grad;
  double total = 0;
  for (const Tensor& p : params) {
    if (!p.grad().defined()) continue;
    const Tensor g = gradient_of(p);
    total += dispatch_floating(g.dtype(), "clip_grad_norm", [&]<class T>() {
      double squares = 0;
      detail::on_device(
          g.device(), [&] { squares = kernels::cpu::sum_of_squares<T>(g.numel(), g.data<T>()); },
          [&] {
            Tensor out = Tensor::empty({}, DType::f64, g.device());
            kernels::cuda::sum_of_squares<T>(g.numel(), g.data<T>(), out.data<double>());
            squares = out.item();
          });
      return squares;
    });
  }
  const double norm = std::sqrt(total);
  if (norm > max_norm) {
    // A fresh tensor per parameter rather than a scaling in place: backward gives each leaf a gradient of its
    // own, but one installed with set_grad may be shared by two parameters or still be held by the caller.
    for (const Tensor& p : params)
      if (p.grad().defined()) Tensor(p).set_grad(mul(p.grad(), max_norm / (norm + 1e-6)));
  }
  return norm;
}

}  // namespace ssl::nn
