// UTF-8 validity. Runs record paths and class names in JSON, which holds UTF-8 text only, so a name that is
// not UTF-8 (a file system may hold any bytes) is refused where it comes in, naming it, rather than failing
// deep inside a JSON writer after the work is done.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "core/error.h"

namespace ssl {

// The offset of the first byte that does not begin a well-formed UTF-8 sequence (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), or std::string_view::npos when every byte does.
inline size_t invalid_utf8_at(std::string_view s) {
  struct Lead {
    size_t length;                 // of the sequence this byte begins; 0: it begins none
    uint8_t lo = 0x80, hi = 0xBF;  // the second byte's range (the others are 0x80-0xBF)
  };
  const auto lead = [](uint8_t b) -> Lead {
    if (b < 0x80) return {1};
    if (b >= 0xC2 && b <= 0xDF) return {2};
    if (b == 0xE0) return {3, 0xA0};        // below: overlong
    if (b == 0xED) return {3, 0x80, 0x9F};  // above: surrogates
    if (b >= 0xE1 && b <= 0xEF) return {3};
    if (b == 0xF0) return {4, 0x90};  // below: overlong
    if (b >= 0xF1 && b <= 0xF3) return {4};
    if (b == 0xF4) return {4, 0x80, 0x8F};  // above: past U+10FFFF
    return {0};
  };
  for (size_t i = 0; i < s.size();) {
    const Lead l = lead(uint8_t(s[i]));
    if (l.length == 0 || i + l.length > s.size()) return i;
    for (size_t k = 1; k < l.length; ++k) {
      const uint8_t b = uint8_t(s[i + k]);
      if (b < (k == 1 ? l.lo : 0x80) || b > (k == 1 ? l.hi : 0xBF)) return i;
    }
    i += l.length;
  }
  return std::string_view::npos;
}

// Refuses `text` (what `what` names, e.g. "class folder 'x'") unless it is UTF-8, naming the first bad byte.
inline void check_utf8(std::string_view text, const std::string& what) {
  const size_t at = invalid_utf8_at(text);
  if (at == std::string_view::npos) return;
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02X", unsigned(uint8_t(text[at])));
  throw Error(str_cat(what, " is not UTF-8 text (byte ", at, " is ", hex, ", after '", text.substr(0, at),
                      "'): runs record names in JSON, which holds UTF-8 only; rename it"));
}

}  // namespace ssl
