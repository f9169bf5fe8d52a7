#include "data/file_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "core/error.h"

namespace ssl::data {

FileReader::FileReader(std::string path) : path_(std::move(path)) {
  // The checks look at the opened descriptor, so they and the reads concern the same file even if the path is
  // replaced meanwhile. O_NONBLOCK lets a FIFO open at once, to be refused below, instead of waiting for a
  // writer; it changes nothing for a regular file.
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  SSL_CHECK(fd_ >= 0, path_, ": cannot open: ", std::strerror(errno));
  struct stat st {};
  std::string problem;
  if (::fstat(fd_, &st) != 0) {
    problem = std::string("cannot stat: ") + std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    problem = std::string("expected a regular file, found ") +
              (S_ISDIR(st.st_mode) ? "a directory" : "something else");
  }
  if (!problem.empty()) {
    ::close(std::exchange(fd_, -1));  // the destructor does not run when the constructor throws
    throw Error(str_cat(path_, ": ", problem));
  }
  size_ = int64_t(st.st_size);
}

FileReader::FileReader(FileReader&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)), size_(other.size_) {}

FileReader::~FileReader() {
  if (fd_ >= 0) ::close(fd_);
}

void FileReader::read_at(int64_t offset, void* out, int64_t count) const {
  SSL_CHECK(offset >= 0 && count >= 0, path_, ": bad read of ", count, " bytes at offset ", offset);
  auto* dst = static_cast<char*>(out);
  int64_t done = 0;
  while (done < count) {
    const ssize_t got = ::pread(fd_, dst + done, size_t(count - done), off_t(offset + done));
    if (got < 0 && errno == EINTR) continue;
    SSL_CHECK(got >= 0, path_, ": read error at offset ", offset + done, ": ", std::strerror(errno));
    SSL_CHECK(got > 0, path_, ": expected ", count, " bytes at offset ", offset, ", found only ", done,
              " (the file is shorter than when it was opened)");
    done += got;
  }
}

std::vector<uint8_t> FileReader::read_all() const {
  std::vector<uint8_t> bytes(static_cast<size_t>(size_));
  read_at(0, bytes.data(), size_);
  return bytes;
}

std::vector<std::string> read_text_lines(const std::string& path) {
  const std::vector<uint8_t> bytes = FileReader(path).read_all();
  std::vector<std::string> lines;
  std::string line;
  for (const uint8_t b : bytes) {
    if (b == '\n') {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      lines.push_back(std::move(line));
      line.clear();
    } else {
      line.push_back(char(b));
    }
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (!line.empty()) lines.push_back(std::move(line));
  while (!lines.empty() && lines.back().find_first_not_of(" \t") == std::string::npos) lines.pop_back();
  return lines;
}

}  // namespace ssl::data
