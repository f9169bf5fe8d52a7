// The optimizers' step kernels, in float (the training dtype) and double, against the formulas of
// kernels/optim.h written out in double: several steps in a row, so that the momentum and moment buffers
// carry over, every branch (Nesterov, weight decay, LARS's excluded tensors and its trust ratio's fallback),
// and buffers long enough for the threaded loops.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/compute_threads.h"
#include "kernels/optim.h"
#include "support/kernel_check.h"

namespace {

using namespace ssl::test;
namespace cpu = ssl::kernels::cpu;

constexpr int kSteps = 4;
// Past the kernels' threshold for splitting a buffer over threads (65,536 elements).
constexpr int64_t kThreadedSize = 70001;

// Every optimizer's hyperparameters (each reads those it has).
struct Hyper {
  double lr = 0.1, momentum = 0.9, weight_decay = 0.01, eta = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  bool nesterov = false, adapt = true;
};

// Values rounded to T and back: what the kernel is given, and so what the reference starts from too (the
// comparison then measures the kernel's rounding, not the inputs').
template <class T>
std::vector<double> as_given(const std::vector<double>& v) {
  return cast<double>(cast<T>(v));
}
template <class T>
Hyper as_given(Hyper h) {
  for (double* x : {&h.lr, &h.momentum, &h.weight_decay, &h.eta, &h.beta1, &h.beta2, &h.eps})
    *x = double(T(*x));
  return h;
}

// One gradient per step, drawn up front so the kernel and the reference see the same ones.
template <class T>
std::vector<std::vector<double>> gradients(int64_t n, std::mt19937_64& rng) {
  std::vector<std::vector<double>> g;
  for (int s = 0; s < kSteps; ++s) g.push_back(as_given<T>(random_vector(n, rng, -2.0, 2.0)));
  return g;
}

// ---- references: the header's formulas, element by element, in double ----

void sgd_reference(std::vector<double>& p, const std::vector<double>& g, std::vector<double>& buf,
                   const Hyper& h, bool first) {
  for (size_t i = 0; i < p.size(); ++i) {
    const double d = g[i] + h.weight_decay * p[i];
    double step = d;
    if (h.momentum != 0) {
      buf[i] = first ? d : h.momentum * buf[i] + d;
      step = h.nesterov ? d + h.momentum * buf[i] : buf[i];
    }
    p[i] -= h.lr * step;
  }
}

void adam_reference(std::vector<double>& p, const std::vector<double>& g, std::vector<double>& m,
                    std::vector<double>& v, const Hyper& h, bool decoupled, int t) {
  for (size_t i = 0; i < p.size(); ++i) {
    if (decoupled) p[i] -= h.lr * h.weight_decay * p[i];
    const double d = g[i] + (decoupled ? 0.0 : h.weight_decay * p[i]);
    m[i] = h.beta1 * m[i] + (1 - h.beta1) * d;
    v[i] = h.beta2 * v[i] + (1 - h.beta2) * d * d;
    const double m_hat = m[i] / (1 - std::pow(h.beta1, t)), v_hat = v[i] / (1 - std::pow(h.beta2, t));
    p[i] -= h.lr * m_hat / (std::sqrt(v_hat) + h.eps);
  }
}

void lars_reference(std::vector<double>& p, const std::vector<double>& g, std::vector<double>& buf,
                    const Hyper& h) {
  const double wd = h.adapt ? h.weight_decay : 0.0;
  std::vector<double> d(p.size());
  double p_norm = 0, d_norm = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    d[i] = g[i] + wd * p[i];
    p_norm += p[i] * p[i];
    d_norm += d[i] * d[i];
  }
  p_norm = std::sqrt(p_norm);
  d_norm = std::sqrt(d_norm);
  const double trust = h.adapt && p_norm > 0 && d_norm > 0 ? h.eta * p_norm / d_norm : 1.0;
  for (size_t i = 0; i < p.size(); ++i) {
    const double scaled = h.lr * trust * d[i];
    buf[i] = h.momentum * buf[i] + scaled;
    p[i] -= h.nesterov ? h.momentum * buf[i] + scaled : buf[i];
  }
}

// Float carries about 7 digits; four steps each add a rounding or two.
template <class T>
double tolerance() {
  return sizeof(T) == 4 ? 2e-6 : 1e-13;
}

// ---- SGD ----

struct SgdCase {
  const char* name;
  Hyper h;
};
const SgdCase kNesterovWithDecay{"Nesterov momentum and weight decay",
                                 {.lr = 0.05, .momentum = 0.8, .weight_decay = 0.02, .nesterov = true}};
const std::vector<SgdCase> kSgdCases = {
    {"plain (no momentum, no decay)", {.momentum = 0, .weight_decay = 0}},
    {"weight decay, no momentum", {.momentum = 0, .weight_decay = 0.05}},
    {"momentum and weight decay", {}},
    {"Nesterov momentum", {.weight_decay = 0, .nesterov = true}},
    kNesterovWithDecay,
};

template <class T>
void check_sgd(const SgdCase& c, int64_t n, uint64_t seed) {
  const Hyper h = as_given<T>(c.h);
  std::mt19937_64 rng(seed);
  std::vector<double> p_ref = as_given<T>(random_vector(n, rng)), buf_ref(size_t(n), 0.0);
  const auto g = gradients<T>(n, rng);
  // Poisoned: the first step must not read the buffer, nor any step without momentum.
  std::vector<T> p = cast<T>(p_ref), buf = poisoned<T>(n);
  for (int s = 0; s < kSteps; ++s) {
    const std::vector<T> gs = cast<T>(g[s]);
    cpu::sgd_step<T>(n, p.data(), gs.data(), buf.data(), T(h.lr), T(h.momentum), T(h.weight_decay),
                     h.nesterov, s == 0);
    sgd_reference(p_ref, g[s], buf_ref, h, s == 0);
  }
  check_close(p, p_ref, tolerance<T>(), tolerance<T>(), std::string(c.name) + ": parameters");
  if (h.momentum != 0) check_close(buf, buf_ref, tolerance<T>(), tolerance<T>(), "momentum buffer");
}

TEST_CASE("sgd_step against the SGD formulas over four steps, in float and double") {
  for (const auto& c : kSgdCases) {
    CAPTURE(c.name);
    check_sgd<float>(c, 257, 1);
    check_sgd<double>(c, 257, 1);
  }
}

TEST_CASE("sgd_step splits a long buffer over threads and still follows the formulas") {
  const ssl::kernels::ComputeThreads two(2);
  check_sgd<float>(kNesterovWithDecay, kThreadedSize, 2);
}

// ---- Adam and AdamW ----

template <class T>
void check_adam(bool decoupled, double weight_decay, int64_t n, uint64_t seed) {
  const Hyper h = as_given<T>(Hyper{.lr = 0.01, .weight_decay = weight_decay});
  std::mt19937_64 rng(seed);
  std::vector<double> p_ref = as_given<T>(random_vector(n, rng)), m_ref(size_t(n), 0.0),
                      v_ref(size_t(n), 0.0);
  const auto g = gradients<T>(n, rng);
  std::vector<T> p = cast<T>(p_ref), m(size_t(n), T(0)), v(size_t(n), T(0));
  for (int s = 0; s < kSteps; ++s) {
    const std::vector<T> gs = cast<T>(g[s]);
    const auto step = decoupled ? cpu::adamw_step<T> : cpu::adam_step<T>;
    step(n, p.data(), gs.data(), m.data(), v.data(), T(h.lr), T(h.beta1), T(h.beta2), T(h.eps),
         T(h.weight_decay), s + 1);
    adam_reference(p_ref, g[s], m_ref, v_ref, h, decoupled, s + 1);
  }
  check_close(p, p_ref, tolerance<T>(), tolerance<T>(), "parameters");
  check_close(m, m_ref, tolerance<T>(), tolerance<T>(), "first moment");
  check_close(v, v_ref, tolerance<T>(), tolerance<T>(), "second moment");
}

TEST_CASE("adam_step and adamw_step against the Adam formulas over four steps, in float and double") {
  for (const bool decoupled : {false, true})
    for (const double weight_decay : {0.0, 0.1}) {
      CAPTURE(decoupled);
      CAPTURE(weight_decay);
      check_adam<float>(decoupled, weight_decay, 257, 3);
      check_adam<double>(decoupled, weight_decay, 257, 3);
    }
}

TEST_CASE("adam_step and adamw_step split a long buffer over threads and still follow the formulas") {
  const ssl::kernels::ComputeThreads two(2);
  check_adam<float>(false, 0.1, kThreadedSize, 4);
  check_adam<float>(true, 0.1, kThreadedSize, 4);
}

// ---- LARS ----

struct LarsCase {
  const char* name;
  Hyper h;
  bool zero_parameters = false;  // ‖p‖ = 0 on the first step: the trust ratio falls back to 1
};
const LarsCase kAdaptedNesterov{"adapted, Nesterov", {.nesterov = true}};
const std::vector<LarsCase> kLarsCases = {
    {"adapted", {}},
    kAdaptedNesterov,
    {"excluded (bias or batch norm)", {.adapt = false}},
    {"excluded, Nesterov", {.nesterov = true, .adapt = false}},
    {"adapted, zero-initialised", {}, true},
};

template <class T>
void check_lars(const LarsCase& c, int64_t n, uint64_t seed) {
  const Hyper h = as_given<T>(c.h);
  std::mt19937_64 rng(seed);
  std::vector<double> p_ref =
      c.zero_parameters ? std::vector<double>(size_t(n), 0.0) : as_given<T>(random_vector(n, rng));
  std::vector<double> buf_ref(size_t(n), 0.0);
  const auto g = gradients<T>(n, rng);
  std::vector<T> p = cast<T>(p_ref), buf(size_t(n), T(0));
  for (int s = 0; s < kSteps; ++s) {
    const std::vector<T> gs = cast<T>(g[s]);
    cpu::lars_step<T>(n, p.data(), gs.data(), buf.data(), T(h.lr), T(h.momentum), T(h.weight_decay), T(h.eta),
                      h.adapt, h.nesterov);
    lars_reference(p_ref, g[s], buf_ref, h);
  }
  check_close(p, p_ref, tolerance<T>(), tolerance<T>(), std::string(c.name) + ": parameters");
  check_close(buf, buf_ref, tolerance<T>(), tolerance<T>(), std::string(c.name) + ": momentum buffer");
}

TEST_CASE("lars_step against the LARS formulas over four steps, in float and double") {
  for (const auto& c : kLarsCases) {
    CAPTURE(c.name);
    check_lars<float>(c, 257, 5);
    check_lars<double>(c, 257, 5);
  }
}

TEST_CASE("lars_step splits a long buffer over threads and still follows the formulas") {
  const ssl::kernels::ComputeThreads two(2);
  check_lars<float>(kAdaptedNesterov, kThreadedSize, 6);
}

}  // namespace
