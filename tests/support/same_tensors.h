// Two safetensors files hold the same tensors, bit for bit: for the tests of exact resume.
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "nn/checkpoint.h"

namespace ssl::test {

// Every tensor of `a` whose name starts with `prefix` (all of them by default) is in `b` with the same
// values, and both files hold as many tensors; at least one is compared.
inline void check_same_tensors(const std::string& a, const std::string& b, const std::string& prefix = "") {
  const auto ta = nn::load_safetensors(a), tb = nn::load_safetensors(b);
  REQUIRE(ta.size() == tb.size());
  int compared = 0;
  for (const auto& [name, t] : ta) {
    if (name.rfind(prefix, 0) != 0) continue;
    REQUIRE_MESSAGE(tb.count(name), name);
    CHECK_MESSAGE(t.to_vector<float>() == tb.at(name).to_vector<float>(), name);
    ++compared;
  }
  CHECK(compared > 0);
}

}  // namespace ssl::test
