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
  // Refused before opening: opening a device can have effects of its own, and opening a FIFO waits for a
  // writer.
  struct stat st {};
  SSL_CHECK(::stat(path_.c_str(), &st) == 0, path_, ": cannot open: ", std::strerror(errno));
  SSL_CHECK(S_ISREG(st.st_mode), path_, ": expected a regular file, found ",
            S_ISDIR(st.st_mode) ? "a directory" : "something else");
  // Checked again on the descriptor the reads use, in case the path was replaced in between (O_NONBLOCK: a
  // FIFO swapped in is refused rather than waited on; it changes nothing for a regular file).
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  SSL_CHECK(fd_ >= 0, path_, ": cannot open: ", std::strerror(errno));
  const bool still_regular = ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode);
  if (!still_regular) ::close(std::exchange(fd_, -1));  // no destructor runs when the constructor throws
  SSL_CHECK(still_regular, path_,
            ": expected a regular file, found something else once opened (was the path replaced meanwhile?)");
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
