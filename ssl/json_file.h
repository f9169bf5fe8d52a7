// The JSON files a run leaves beside its checkpoints (results.json, metrics.jsonl), read back with errors
// that name the file and the line instead of the parser's bare message.
#pragma once

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "nn/json_bounded.h"

namespace ssl {

// The document in `path`, which must be an object.
inline nlohmann::json read_json_object(const std::string& path) {
  std::ifstream in(path);
  SSL_CHECK(in, "cannot read ", path);
  try {
    nlohmann::json j = nn::parse_json_bounded(in, path);
    SSL_CHECK(j.is_object(), path, ": expected a JSON object, found ", j.type_name());
    return j;
  } catch (const nlohmann::json::exception& e) {
    throw Error(str_cat(path, ": not valid JSON (", e.what(), ")"));
  }
}

// The objects of a JSON-lines file, one per non-empty line; none when the file does not exist.
inline nlohmann::json read_json_lines(const std::string& path) {
  nlohmann::json out = nlohmann::json::array();
  std::ifstream in(path);
  int64_t number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (line.empty()) continue;
    try {
      out.push_back(nn::parse_json_bounded(line, str_cat(path, " line ", number)));
    } catch (const nlohmann::json::exception& e) {
      throw Error(str_cat(path, " line ", number, ": not valid JSON (", e.what(), ")"));
    }
    SSL_CHECK(out.back().is_object(), path, " line ", number, ": expected a JSON object, found ",
              out.back().type_name());
  }
  return out;
}

}  // namespace ssl
