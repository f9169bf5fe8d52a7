// JSON from a file a user hands us, parsed with its nesting bounded. nlohmann's parser keeps a stack of its
// own, but copying or printing a value recurses once per level, and a damaged or crafted file nested 100,000
// levels deep would overflow the stack there. No file of ours nests more than a few levels.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"

namespace ssl::nn {

inline constexpr int kMaxJsonDepth = 64;

// `input` (text or a stream) parsed as JSON; throws ssl::Error naming `what` past kMaxJsonDepth levels, and
// nlohmann's parse_error where it is not JSON.
template <class Input>
nlohmann::json parse_json_bounded(Input&& input, const std::string& what) {
  const nlohmann::json::parser_callback_t bounded = [&](int depth, nlohmann::json::parse_event_t,
                                                        nlohmann::json&) {
    SSL_CHECK(depth <= kMaxJsonDepth, what, ": JSON nested more than ", kMaxJsonDepth, " levels deep");
    return true;
  };
  return nlohmann::json::parse(std::forward<Input>(input), bounded);
}

}  // namespace ssl::nn
