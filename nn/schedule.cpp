#include "nn/schedule.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace ssl::nn {

double LrSchedule::at(int64_t step) const {
  SSL_CHECK(
      std::isfinite(peak) && peak >= 0 && std::isfinite(gamma) && gamma >= 0 && warmup_steps >= 0 &&
          total_steps >= 1 && step_size >= 1 && step >= 0,
      "LrSchedule: expected peak and gamma finite and >= 0, warmup_steps >= 0, total_steps and step_size "
      ">= 1, and a step >= 0; got peak ",
      peak, ", gamma ", gamma, ", warmup_steps ", warmup_steps, ", total_steps ", total_steps, ", step_size ",
      step_size, ", step ", step);
  if (step < warmup_steps) return peak * double(step + 1) / double(warmup_steps);
  const int64_t after = step - warmup_steps;
  switch (kind) {
    case Kind::constant:
      return peak;
    case Kind::step:
      return peak * std::pow(gamma, double(after / std::max<int64_t>(1, step_size)));
    case Kind::cosine: {
      const double t = double(after) / double(std::max<int64_t>(1, total_steps - warmup_steps));
      return peak * 0.5 * (1.0 + std::cos(M_PI * std::min(1.0, t)));
    }
  }
  return peak;
}

LrSchedule::Kind LrSchedule::parse_kind(const std::string& name) {
  if (name == "constant") return Kind::constant;
  if (name == "step") return Kind::step;
  if (name == "cosine") return Kind::cosine;
  throw Error(str_cat("unknown learning-rate schedule '", name, "'; expected constant, step or cosine"));
}

}  // namespace ssl::nn
