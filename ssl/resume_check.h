// --resume: the options a run was saved with against those it is resumed with, for every training command.
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "nn/train_state.h"

namespace ssl {

// The training state saved in `checkpoint_path` (format `format`), read from the file's header, for a run
// about to resume: refused, naming `command`, when there is no checkpoint or when the saved run has already
// completed `epochs` epochs. Called before anything is built or config.json is overwritten.
nn::TrainState read_state_to_resume(const std::string& command, const std::string& checkpoint_path,
                                    const std::string& format, int64_t epochs);

// Throws ssl::Error naming `source` and listing every option (a key of `saved`) whose value in `requested`
// differs, except those in `may_change` (options that alter neither the epochs done nor those to come).
void check_resume_agrees(const nlohmann::json& saved, const nlohmann::json& requested,
                         const std::set<std::string>& may_change, const std::string& source);

}  // namespace ssl
