// Learning-rate schedules: the rate for each optimizer step, set before the step (`opt.lr = s.at(step)`).
#pragma once

#include <cstdint>
#include <string>

namespace ssl::nn {

struct LrSchedule {
  enum class Kind { constant, step, cosine };
  Kind kind = Kind::cosine;
  double peak = 1e-3;        // the rate after warm-up
  int64_t warmup_steps = 0;  // linear warm-up from peak/warmup_steps to peak
  int64_t total_steps = 1;   // cosine: decays to 0 at this step
  int64_t step_size = 1;     // step: multiply by gamma every step_size steps after warm-up
  double gamma = 0.1;

  double at(int64_t step) const;
  static Kind parse_kind(const std::string& name);  // "constant", "step" or "cosine"
};

}  // namespace ssl::nn
