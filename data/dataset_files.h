// Small helpers shared by the file-based datasets (CIFAR-10, STL-10, image folders).
#pragma once

#include <string>
#include <vector>

namespace ssl::data {

// Throws ssl::Error "<what> directory '<dir>' ..." unless `dir` exists and is a directory.
void require_directory(const std::string& dir, const char* what);

// dir + "/" + name (no doubled slash).
std::string join_path(const std::string& dir, const std::string& name);

// Reads a class-name file (one name per line, surrounding blanks trimmed, trailing blank lines ignored) and
// checks it names `expected` classes, none blank. Throws ssl::Error naming the file otherwise.
std::vector<std::string> read_class_names(const std::string& path, size_t expected);

}  // namespace ssl::data
