#include "data/dataset_files.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "data/file_reader.h"

namespace ssl::data {

void require_directory(const std::string& dir, const char* what) {
  struct stat st {};
  SSL_CHECK(::stat(dir.c_str(), &st) == 0, what, " directory '", dir, "' not found: ", std::strerror(errno));
  SSL_CHECK(S_ISDIR(st.st_mode), what, " directory '", dir, "' is not a directory");
}

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty() || dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

std::vector<std::string> read_class_names(const std::string& path, size_t expected) {
  std::vector<std::string> names;
  for (const std::string& line : read_text_lines(path)) {
    const size_t b = line.find_first_not_of(" \t");
    const size_t e = line.find_last_not_of(" \t");
    const std::string name = b == std::string::npos ? "" : line.substr(b, e - b + 1);
    SSL_CHECK(!name.empty(), path, ": line ", names.size() + 1,
              " is blank; expected one class name per line");
    names.push_back(name);
  }
  SSL_CHECK(names.size() == expected, path, ": expected ", expected, " class names, found ", names.size());
  return names;
}

}  // namespace ssl::data
