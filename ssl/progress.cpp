#include "ssl/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace ssl {

bool stdout_is_terminal() { return ::isatty(STDOUT_FILENO) == 1; }

Progress::Progress(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled), tty_(stdout_is_terminal()) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

void Progress::update(int64_t done, double loss, int64_t items) {
  done_ = done;
  loss_ = loss;
  items_ += items;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  if (since >= (tty_ ? 0.2 : 10.0)) draw(false);
}

void Progress::finish(const std::string& summary) {
  draw(true);
  if (enabled_ && !summary.empty()) std::printf("  %s\n", summary.c_str());
  std::fflush(stdout);
}

void Progress::draw(bool final_line) {
  if (!enabled_) return;
  last_draw_ = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(last_draw_ - start_).count();
  const double rate = elapsed > 0 ? items_ / elapsed : 0;
  const double eta = done_ > 0 ? elapsed / done_ * (total_ - done_) : 0;
  const int width = 20, filled = total_ > 0 ? int(width * done_ / total_) : width;
  std::string bar(filled, '#');
  bar.append(width - filled, '.');
  const int eta_s = int(std::lround(eta));
  char loss[32] = "";
  if (!std::isnan(loss_)) std::snprintf(loss, sizeof loss, " loss %.4f", loss_);
  char line[256];
  std::snprintf(line, sizeof line, "%s [%s] %lld/%lld%s %.0f img/s %s %d:%02d", label_.c_str(), bar.c_str(),
                (long long)done_, (long long)total_, loss, rate, final_line ? "took" : "ETA",
                final_line ? int(elapsed) / 60 : eta_s / 60, final_line ? int(elapsed) % 60 : eta_s % 60);
  if (tty_) {
    std::printf("\r\033[K%s%s", line, final_line ? "\n" : "");
  } else {
    std::printf("%s\n", line);
  }
  std::fflush(stdout);
}

}  // namespace ssl
