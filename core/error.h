// ssl::Error and SSL_CHECK: every bad input becomes an exception that says what was expected, what was
// found and where. Header-only so that every layer, kernels included, can throw the same type.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace ssl {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <class T>
void append_to_stream(std::ostream& os, const T& v) {
  os << v;
}
template <class T>
void append_to_stream(std::ostream& os, const std::vector<T>& v) {
  os << '[';
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << ']';
}

// Concatenates its arguments with operator<<; vectors print as [a, b, c] (shapes read naturally).
template <class... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  (append_to_stream(os, args), ...);
  return os.str();
}

// `text` with every byte outside printable ASCII written as \xNN: for messages that quote a damaged file
// (a parser's complaint about a binary header), so that no control byte reaches the terminal.
inline std::string printable(const std::string& text) {
  static const char* const kHex = "0123456789abcdef";
  std::string out;
  for (const char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f) {
      out += ch;
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace ssl

// Throws ssl::Error with the concatenated message when `cond` is false.
#define SSL_CHECK(cond, ...)                                      \
  do {                                                            \
    if (!(cond)) throw ::ssl::Error(::ssl::str_cat(__VA_ARGS__)); \
  } while (0)
