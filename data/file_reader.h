// FileReader: a read-only file opened once and read at any offset with pread, from several threads at once
// (pread does not move a shared file position). The binary dataset formats read their records through it,
// so a 2.7 GB file is never loaded whole. Every failure is an ssl::Error naming the file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ssl::data {

class FileReader {
 public:
  // Opens `path` for reading; throws ssl::Error naming it when it is missing, not a regular file or
  // unreadable.
  explicit FileReader(std::string path);
  ~FileReader();
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;
  FileReader(FileReader&& other) noexcept;
  FileReader& operator=(FileReader&&) = delete;

  const std::string& path() const { return path_; }
  int64_t size() const { return size_; }
  // Reads exactly `count` bytes at `offset` into `out`; throws ssl::Error on a short read (a file that shrank
  // after opening) or an I/O error. Thread-safe.
  void read_at(int64_t offset, void* out, int64_t count) const;
  // The whole file.
  std::vector<uint8_t> read_all() const;

 private:
  std::string path_;
  int fd_ = -1;
  int64_t size_ = 0;
};

// Reads a small text file as lines, without line terminators ("\r\n" too), dropping trailing blank lines.
// Throws ssl::Error naming the file when it cannot be read.
std::vector<std::string> read_text_lines(const std::string& path);

}  // namespace ssl::data
