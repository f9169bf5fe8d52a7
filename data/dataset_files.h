// Small helpers shared by the file-based datasets (CIFAR-10, STL-10, image folders).
#pragma once

#include <string>
#include <vector>

namespace ssl::data {

// Throws ssl::Error "<what> directory '<dir>' ..." unless `dir` exists and is a directory.
void require_directory(const std::string& dir, const char* what);

// The directory a dataset's files are in: `dir` when it holds `marker`, else `dir/folder` when that does
// (`folder` is where the official archive extracts to, e.g. cifar-10-batches-bin), so either may be given.
// Throws ssl::Error naming both places when neither holds it.
std::string locate_dataset_directory(const std::string& dir, const char* what, const std::string& marker,
                                     const std::string& folder);

// dir + "/" + name (no doubled slash).
std::string join_path(const std::string& dir, const std::string& name);

// Reads a class-name file (one name per line, surrounding blanks trimmed, trailing blank lines ignored) and
// checks it names `expected` classes, none blank. Throws ssl::Error naming the file otherwise.
std::vector<std::string> read_class_names(const std::string& path, size_t expected);

}  // namespace ssl::data
