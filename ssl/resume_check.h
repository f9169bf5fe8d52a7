// --resume: the options a run was saved with against those it is resumed with, for every training command.
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>

namespace ssl {

// Throws ssl::Error naming `source` and listing every option (a key of `saved`) whose value in `requested`
// differs, except those in `may_change` (options that alter neither the epochs done nor those to come).
void check_resume_agrees(const nlohmann::json& saved, const nlohmann::json& requested,
                         const std::set<std::string>& may_change, const std::string& source);

}  // namespace ssl
