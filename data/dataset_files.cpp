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

std::string locate_dataset_directory(const std::string& dir, const char* what, const std::string& marker,
                                     const std::string& folder) {
  require_directory(dir, what);
  const auto is_file = [](const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
  };
  if (is_file(join_path(dir, marker))) return dir;
  const std::string inner = join_path(dir, folder);
  if (is_file(join_path(inner, marker))) return inner;
  throw Error(str_cat(what, " directory '", dir, "': found neither '", join_path(dir, marker), "' nor '",
                      join_path(inner, marker),
                      "'; expected the files of the official binary version in it, or in '", folder,
                      "' under it as its archive extracts"));
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
