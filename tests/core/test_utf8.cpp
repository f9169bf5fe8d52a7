// UTF-8 validity (core/utf8.h): well-formed text of every length passes; the first bad byte is found.
#include <doctest/doctest.h>

#include <string>

#include "core/utf8.h"

namespace ssl {
namespace {

TEST_CASE("invalid_utf8_at: well-formed sequences of 1 to 4 bytes pass") {
  for (const std::string ok : {"", "plain ascii", "caf\xC3\xA9", "\xE2\x82\xAC 5", "\xF0\x9F\x90\xB1 cat",
                               "\xED\x9F\xBF", "\xF4\x8F\xBF\xBF"}) {
    CAPTURE(ok);
    CHECK(invalid_utf8_at(ok) == std::string_view::npos);
    CHECK_NOTHROW(check_utf8(ok, "name"));
  }
}

TEST_CASE("invalid_utf8_at: the first byte that begins no well-formed sequence") {
  CHECK(invalid_utf8_at("nu\xFF") == 2);            // never in UTF-8
  CHECK(invalid_utf8_at("enc\xE9") == 3);           // Latin-1 é
  CHECK(invalid_utf8_at("ab\xC3") == 2);            // cut short
  CHECK(invalid_utf8_at("\x80x") == 0);             // a continuation byte first
  CHECK(invalid_utf8_at("a\xC0\xAF") == 1);         // overlong '/'
  CHECK(invalid_utf8_at("\xE0\x80\xAF") == 0);      // overlong, 3 bytes
  CHECK(invalid_utf8_at("ok\xED\xA0\x80") == 2);    // a surrogate, U+D800
  CHECK(invalid_utf8_at("\xF4\x90\x80\x80") == 0);  // above U+10FFFF
  CHECK(invalid_utf8_at("\xC3\xA9\xE2\x82") == 2);  // a good one, then a cut one
  CHECK_THROWS_WITH_AS(check_utf8("nu\xFF", "class folder 'nu'"),
                       doctest::Contains("class folder 'nu' is not UTF-8 text (byte 2 is 0xFF, after 'nu')"),
                       Error);
}

}  // namespace
}  // namespace ssl
