// Shared by the fuzz targets: a scratch directory private to the process (removed at exit) and a writer
// that turns a slice of the fuzz input into a file there, so the parsers under test read real files.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace ssl::fuzz {

class ScratchDir {
 public:
  ScratchDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/ssl_fuzz_XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::perror("ssl fuzz: mkdtemp");
      std::abort();
    }
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The process's scratch directory, created on first use.
inline const ScratchDir& scratch() {
  static const ScratchDir dir;
  return dir;
}

// Replaces the file at `path` with `size` bytes from `data`; aborts with a message saying so when the file
// cannot be written (a problem of the machine, not of the parser under test).
inline void write_file(const std::string& path, const uint8_t* data, size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::perror(("ssl fuzz: cannot write " + path).c_str());
    std::abort();
  }
}

inline void remove_file(const std::string& path) { std::remove(path.c_str()); }

}  // namespace ssl::fuzz
