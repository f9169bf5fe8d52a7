// A progress line for long loops: "epoch 3/10 [#####.....] 120/240 loss 4.812 1,234 img/s ETA 0:42".
// On a terminal it redraws one line; otherwise (logs, CI) it prints a plain line every few seconds and
// at the end, so a log stays readable.
#pragma once

#include <chrono>
#include <string>

namespace ssl {

class Progress {
 public:
  // `label` names the loop ("epoch 3/10", "features"); `total` is the number of steps.
  Progress(std::string label, int64_t total, bool enabled = true);
  // After step `done` (1-based) of `total`; `items` is how many images the step handled; a NaN loss is
  // not shown (loops without one).
  void update(int64_t done, double loss, int64_t items);
  void finish(const std::string& summary = "");

 private:
  void draw(bool final_line);
  std::string label_;
  int64_t total_, done_ = 0, items_ = 0;
  double loss_ = 0;
  bool enabled_, tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// True when stdout is an interactive terminal.
bool stdout_is_terminal();

}  // namespace ssl
