#include "ssl/resume_check.h"

#include <filesystem>

#include "core/error.h"

namespace ssl {

nn::TrainState read_state_to_resume(const std::string& command, const std::string& checkpoint_path,
                                    const std::string& format, int64_t epochs) {
  SSL_CHECK(std::filesystem::exists(checkpoint_path), command, ": cannot resume: no checkpoint '",
            checkpoint_path, "'");
  nn::TrainState state = nn::read_train_state(checkpoint_path, format);
  SSL_CHECK(state.epoch < epochs, checkpoint_path, ": the run has already completed ", state.epoch,
            " epochs; pass --epochs above ", state.epoch, " to train further");
  return state;
}

void check_resume_agrees(const nlohmann::json& saved, const nlohmann::json& requested,
                         const std::set<std::string>& may_change, const std::string& source) {
  std::string conflicts;
  for (const auto& [key, value] : saved.items()) {
    if (may_change.count(key)) continue;
    if (requested.at(key) != value)
      conflicts += str_cat("\n  ", key, ": saved ", value.dump(), ", requested ", requested.at(key).dump());
  }
  SSL_CHECK(conflicts.empty(), source,
            ": cannot resume with options that differ from the saved run's:", conflicts);
}

}  // namespace ssl
