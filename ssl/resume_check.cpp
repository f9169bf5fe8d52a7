#include "ssl/resume_check.h"

#include "core/error.h"

namespace ssl {

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
