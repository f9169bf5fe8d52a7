// A test's scratch directory: created empty under the system's temporary directory, and removed with
// everything in it when the object goes out of scope, whether the test passed, failed or threw. Named after
// the test and the process (two test programs running at once never share one), or, made without a name, a
// fresh directory of its own.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <system_error>

namespace ssl::test {

class TempDir {
 public:
  // The directory a TempDir named `name` has in this process, for helpers that build paths inside it.
  static std::string path_for(const std::string& name) {
    return (std::filesystem::temp_directory_path() / (name + "_" + std::to_string(::getpid()))).string();
  }

  explicit TempDir(const std::string& name) : path_(path_for(name)) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  // mkdtemp replaces the template's six X's with a name no other directory has, and creates it.
  TempDir() : path_((std::filesystem::temp_directory_path() / "ssl_test_XXXXXX").string()) {
    if (::mkdtemp(path_.data()) == nullptr)
      throw std::system_error(errno, std::generic_category(), "cannot create a directory like " + path_);
  }
  ~TempDir() {
    std::error_code ignored;  // a destructor must not throw; a leftover directory is harmless
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace ssl::test
