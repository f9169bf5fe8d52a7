#include "nn/checkpoint.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>
#include <vector>

#include "core/utf8.h"
#include "nn/json_bounded.h"

namespace ssl::nn {

namespace {

using json = nlohmann::json;

// 64-bit FNV-1a: `hash` (start from kFnvOffset) continued over n bytes. A digest that detects damage, not
// tampering.
constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull;
uint64_t fnv1a(const char* bytes, size_t n, uint64_t hash) {
  for (size_t i = 0; i < n; ++i) hash = (hash ^ uint8_t(bytes[i])) * 0x100000001b3ull;
  return hash;
}

std::string hex16(uint64_t v) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", (unsigned long long)v);
  return hex;
}

// save_safetensors records two digests in the metadata, and the readers check them (so that a bit flipped
// on disk is an error, not a silently different model or learning rate) and never hand them back:
// - kDataDigestKey, of the data section: every byte after the header, checked by load_safetensors;
// - kHeaderDigestKey, of everything before the data (the 8-byte length and the header, padding included)
//   with this digest's own 16 hex digits read as zeros, checked whenever a header is read (the header is
//   small). It covers the data digest's entry too, so a damaged name there cannot turn that check off.
// A file without the header digest is read as files written before it existed were: its data is checked
// when it has a data digest, its header is not. A file whose header digest *name* was damaged looks exactly
// like one of those; it is let through, since a damage that hit the name left the rest of the header as it
// was written (and the data is still checked). Files with neither digest (other programs') load unchecked.
// Metadata keys that begin with "ssl." are the format's own: callers may not write them, and the readers
// hand none back (not even a digest whose name was damaged).
constexpr const char* kReservedPrefix = "ssl.";
constexpr const char* kDataDigestKey = "ssl.data_fnv1a64";
constexpr const char* kHeaderDigestKey = "ssl.header_fnv1a64";
constexpr const char* kBlankDigest = "0000000000000000";  // the header digest's value while it is computed

// The header digest's entry `"ssl.header_fnv1a64":"<value>"` as header.dump() writes it. In valid JSON this
// text can be nothing else: a quote inside a string is escaped.
std::string header_digest_entry(const std::string& value) {
  return str_cat('"', kHeaderDigestKey, "\":\"", value, '"');
}

// The header digest of `head`, a file's bytes before its data, whose header digest entry holds `value`:
// FNV-1a over `head` with `value` replaced by kBlankDigest. False when `head` has no such entry.
bool header_digest(std::string head, const std::string& value, uint64_t& hash) {
  const std::string entry = header_digest_entry(value);
  const size_t at = head.find(entry);
  if (at == std::string::npos) return false;
  head.replace(at, entry.size(), header_digest_entry(kBlankDigest));
  hash = fnv1a(head.data(), head.size(), kFnvOffset);
  return true;
}

const char* st_dtype(DType t) {
  switch (t) {
    case DType::f32:
      return "F32";
    case DType::f64:
      return "F64";
    case DType::i64:
      return "I64";
  }
  return "?";
}

DType parse_st_dtype(const std::string& s, const std::string& path, const std::string& name) {
  if (s == "F32") return DType::f32;
  if (s == "F64") return DType::f64;
  if (s == "I64") return DType::i64;
  throw Error(str_cat(path, ": tensor '", name, "' has dtype '", s, "'; supported: F32, F64, I64"));
}

// The entries of `value`, a JSON list of non-negative integers: the tensor's `field` ("shape" or
// "data_offsets"). Anything else (a negative or fractional number, a string) is an error naming the file and
// the tensor.
std::vector<uint64_t> parse_st_uints(const json& value, const std::string& path, const std::string& name,
                                     const char* field) {
  SSL_CHECK(value.is_array(), path, ": tensor '", name, "' has a ", field, " that is not a list");
  std::vector<uint64_t> out;
  for (const json& v : value) {
    SSL_CHECK(v.is_number_unsigned(), path, ": tensor '", name, "' has ", field, " entry ", v.dump(),
              "; expected a non-negative integer");
    out.push_back(v.get<uint64_t>());
  }
  return out;
}

// The shape of tensor `name`, refused when its element count (or a stride) would not fit in an int64_t.
Shape parse_st_shape(const json& value, const std::string& path, const std::string& name) {
  Shape shape;
  int64_t count = 1;  // the product of the non-zero dimensions, the largest stride or element count
  for (const uint64_t d : parse_st_uints(value, path, name, "shape")) {
    SSL_CHECK(
        d <= uint64_t(INT64_MAX) && !__builtin_mul_overflow(count, std::max<int64_t>(int64_t(d), 1), &count),
        path, ": tensor '", name, "' has a shape ", value.dump(), " too large to address");
    shape.push_back(int64_t(d));
  }
  return shape;
}

// A file's header, checked against the file's size: the tensors' bytes fill the data section, each matching
// its dtype and shape, so what remains to read cannot be malformed, only cut short by the disk.
struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;  // byte offsets in the data section
};
struct Header {
  Metadata metadata;
  std::vector<Entry> entries;
  uint64_t data_start = 0;  // the data section's offset in the file
  std::string data_digest;  // kDataDigestKey's value, taken out of the metadata; empty when absent
};

// Checks the header digest of `head` (a file's length and header, `header` parsed) when it has one. Done
// before anything else is read from the header, so that a damaged header is called damaged, whatever the
// byte it hit; a header too malformed to hold the digest is left to the checks that follow.
void check_header_digest(const std::string& path, const json& header, const std::string& head) {
  const auto meta = header.find("__metadata__");
  if (meta == header.end() || !meta->is_object()) return;
  const auto digest = meta->find(kHeaderDigestKey);
  if (digest == meta->end() || !digest->is_string()) return;
  const std::string& saved = digest->get_ref<const std::string&>();
  uint64_t hash = 0;
  SSL_CHECK(header_digest(head, saved, hash) && hex16(hash) == saved, path,
            ": the header does not match the digest saved in it (", kHeaderDigestKey, " ", printable(saved),
            "): the file was damaged or changed after it was written");
}

// As the format requires, the tensors fill the data section: in offset order (which `entries` is sorted
// into), each begins where the one before ends and the last ends with the file. No two tensors share a byte,
// and the data digest is the digest of the tensors' bytes taken in that order.
void check_tensors_fill_data(std::vector<Entry>& entries, uint64_t data_size, const std::string& path) {
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
  });
  uint64_t filled = 0;
  const Entry* before = nullptr;
  for (const Entry& e : entries) {
    SSL_CHECK(e.begin == filled, path, ": tensor '", e.name, "' begins at data byte ", e.begin, " where ",
              before ? str_cat("tensor '", before->name, "' ends, at ", filled)
                     : std::string("the data section begins, at 0"),
              "; the tensors must fill the data section in order, without gaps or overlaps");
    filled = e.end;
    before = &e;
  }
  SSL_CHECK(filled == data_size, path, ": the tensors end at data byte ", filled,
            " but the data section has ", data_size, " bytes; the tensors must fill it");
}

// Opens `path` into `in` and reads its header only; the tensors' bytes are read where they are needed (a
// checkpoint is never held twice in memory, and reading the metadata costs the header's size).
Header read_header(const std::string& path, std::ifstream& in) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  SSL_CHECK(std::filesystem::exists(status), "cannot open checkpoint '", path, "': no such file");
  // A directory or device is refused first: its reported size is not a byte count.
  SSL_CHECK(std::filesystem::is_regular_file(status), "cannot open checkpoint '", path,
            "': not a regular file");
  in.open(path, std::ios::binary | std::ios::ate);
  SSL_CHECK(in, "cannot open checkpoint '", path, "'");
  const uint64_t size = uint64_t(std::max<std::streamoff>(in.tellg(), 0));
  SSL_CHECK(size >= 8, path, ": file is ", size, " bytes, too short for a safetensors header");
  in.seekg(0);
  unsigned char length_bytes[8];
  in.read(reinterpret_cast<char*>(length_bytes), 8);
  SSL_CHECK(in, "cannot read checkpoint '", path, "': its first 8 bytes");
  uint64_t header_len = 0;
  for (int i = 0; i < 8; ++i) header_len |= uint64_t(length_bytes[i]) << (8 * i);  // little-endian
  SSL_CHECK(header_len <= size - 8, path, ": header length ", header_len, " exceeds the file size ", size,
            " (truncated file?)");
  std::string text(header_len, '\0');
  in.read(text.data(), std::streamsize(header_len));
  SSL_CHECK(in, "cannot read checkpoint '", path, "': its ", header_len, "-byte header");
  json header;
  try {
    header = parse_json_bounded(text, path + "'s header");
  } catch (const json::exception& e) {
    throw Error(str_cat(path, ": the header is not valid JSON (", printable(e.what()), ")"));
  }
  SSL_CHECK(header.is_object(), path, ": the header is not a JSON object");
  check_header_digest(path, header, std::string(reinterpret_cast<const char*>(length_bytes), 8) + text);

  Header out;
  out.data_start = 8 + header_len;
  const uint64_t data_size = size - out.data_start;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      // The format's metadata is a map of strings to strings; anything else is a damaged or foreign file.
      SSL_CHECK(entry.is_object(), path, ": __metadata__ must be an object of strings, found ", entry.dump());
      for (const auto& [k, v] : entry.items()) {
        SSL_CHECK(v.is_string(), path, ": metadata '", k, "' must be a string, found ", v.dump());
        if (k == kDataDigestKey)
          out.data_digest = v.get<std::string>();
        else if (!k.starts_with(kReservedPrefix))
          out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    try {
      const DType dtype = parse_st_dtype(entry.at("dtype").get<std::string>(), path, name);
      const Shape shape = parse_st_shape(entry.at("shape"), path, name);
      const auto offsets = parse_st_uints(entry.at("data_offsets"), path, name, "data_offsets");
      SSL_CHECK(offsets.size() == 2 && offsets[0] <= offsets[1] && offsets[1] <= data_size, path,
                ": tensor '", name, "' has data offsets outside the file's ", data_size,
                " data bytes (truncated file?)");
      uint64_t expected = 0;  // numel_of(shape) fits in an int64_t, the byte count may not
      SSL_CHECK(!__builtin_mul_overflow(uint64_t(numel_of(shape)), uint64_t(dtype_size(dtype)), &expected),
                path, ": tensor '", name, "' of shape ", shape, " is too large to address");
      SSL_CHECK(offsets[1] - offsets[0] == expected, path, ": tensor '", name, "' of shape ", shape,
                " needs ", expected, " bytes but has ", offsets[1] - offsets[0]);
      out.entries.push_back({name, dtype, shape, offsets[0], offsets[1]});
    } catch (const json::exception& e) {
      throw Error(str_cat(path, ": malformed header entry for tensor '", name, "' (", e.what(), ")"));
    }
  }
  check_tensors_fill_data(out.entries, data_size, path);
  return out;
}

}  // namespace

void make_directories(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  SSL_CHECK(!ec, "cannot create the directory '", path, "': ", ec.message());
}

void make_parent_directories(const std::string& file_path) {
  const std::filesystem::path parent = std::filesystem::path(file_path).parent_path();
  if (!parent.empty()) make_directories(parent.string());
}

std::string file_fingerprint(const std::string& path) {
  // A FIFO or a device would be waited on or read without end.
  SSL_CHECK(!std::filesystem::exists(path) || std::filesystem::is_regular_file(path), "cannot fingerprint '",
            path, "': not a regular file");
  std::ifstream in(path, std::ios::binary);
  SSL_CHECK(in, "cannot read '", path, "' to fingerprint it: ", std::strerror(errno));
  uint64_t hash = kFnvOffset;
  std::vector<char> chunk(1 << 16);
  while (in) {
    in.read(chunk.data(), std::streamsize(chunk.size()));
    hash = fnv1a(chunk.data(), size_t(in.gcount()), hash);
  }
  SSL_CHECK(in.eof(), "error while reading '", path, "' to fingerprint it");
  return hex16(hash);
}

bool names_a_gone_process(const std::string& digits) {
  int pid = 0;
  // Exactly the digits std::to_string(pid) writes: no sign, no leading zero, nothing after them.
  if (std::from_chars(digits.data(), digits.data() + digits.size(), pid).ec != std::errc() || pid <= 0 ||
      std::to_string(pid) != digits)
    return false;
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

namespace {

// Removes the temporary files that writes of `path` left when their process was killed (`<name>.tmp.<pid>`
// beside it, a checkpoint's size each), where that process no longer exists. A live process's file (this
// one's included), and any name write_file_atomically would not have made, are left alone; so is anything
// that cannot be read or removed, since the write itself does not depend on it. The pids are those
// of this machine's process namespace: a directory that several machines or containers write to at once
// is not supported (a live writer elsewhere would lose its temporary file, and its write would fail).
void remove_stale_temporary_files(const std::string& path) {
  const std::filesystem::path file(path);
  const std::string prefix = file.filename().string() + ".tmp.";
  const std::filesystem::path dir = file.has_parent_path() ? file.parent_path() : ".";
  std::error_code error;
  for (std::filesystem::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (!name.starts_with(prefix)) continue;
    if (names_a_gone_process(name.substr(prefix.size()))) ::unlink(it->path().c_str());
  }
}

// The rename lasts through a power cut only once the directory holding it is on disk too (without this the
// previous file could come back). Best effort: the file is complete either way, and a directory that cannot
// be opened or flushed (some file systems do not support it) is left as it is.
void flush_directory_of(const std::string& path) {
  const std::filesystem::path file(path);
  const std::string dir = file.has_parent_path() ? file.parent_path().string() : ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// Creates write_file_atomically's temporary file for `path`, or throws naming both.
int create_temporary_file(const std::string& path, const std::string& tmp) {
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  SSL_CHECK(fd >= 0, "cannot write '", path, "': ", std::strerror(errno), " (creating its temporary file '",
            tmp, "')");
  return fd;
}
}  // namespace

void check_can_write(const std::string& path) {
  make_parent_directories(path);
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  ::close(create_temporary_file(path, tmp));
  ::unlink(tmp.c_str());
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
  remove_stale_temporary_files(path);
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = create_temporary_file(path, tmp);
  // Any failure removes the temporary file and leaves `path` as it was; `step` says which one failed.
  const auto fail = [&](const char* step, int err) {
    ::unlink(tmp.c_str());
    throw Error(str_cat("cannot write '", path, "': ", step, " its temporary file '", tmp,
                        "' failed: ", std::strerror(err)));
  };
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (w < 0 && errno == EINTR) continue;  // interrupted by a signal before writing anything: again
    if (w < 0) {
      const int err = errno;
      ::close(fd);
      fail("writing", err);
    }
    written += size_t(w);
  }
  // A full disk or an I/O error often shows only here, when the data reaches the disk.
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    fail("flushing to disk", err);
  }
  if (::close(fd) != 0) fail("closing", errno);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail("renaming", errno);
  flush_directory_of(path);
}

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const Metadata& metadata) {
  // The header is JSON text, which holds UTF-8 only.
  for (const auto& [key, value] : metadata) {
    SSL_CHECK(!key.starts_with(kReservedPrefix), "save_safetensors: the metadata key '", key,
              "' is reserved (keys beginning with ", kReservedPrefix, " are the format's own)");
    check_utf8(key, "save_safetensors: a metadata key");
    check_utf8(value, str_cat("save_safetensors: the value of metadata '", key, "'"));
  }
  json header = json::object();
  std::string data;
  std::vector<Tensor> host;
  for (const auto& [name, t] : tensors) {
    SSL_CHECK(!header.contains(name), "save_safetensors: tensor name '", name, "' appears twice");
    SSL_CHECK(name != "__metadata__",
              "save_safetensors: '__metadata__' is the format's own entry, not a name "
              "for a tensor");
    check_utf8(name, "save_safetensors: a tensor name");
    const Tensor c = t.detach().to(Device::cpu()).contiguous();
    const size_t begin = data.size(), nbytes = size_t(c.numel()) * dtype_size(c.dtype());
    data.append(static_cast<const char*>(c.raw_data()), nbytes);
    header[name] = {
        {"dtype", st_dtype(c.dtype())}, {"shape", c.shape()}, {"data_offsets", {begin, begin + nbytes}}};
  }
  json meta = metadata;
  meta[kDataDigestKey] = hex16(fnv1a(data.data(), data.size(), kFnvOffset));
  meta[kHeaderDigestKey] = kBlankDigest;  // its place, filled in once the header is complete
  header["__metadata__"] = meta;
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // pad so that the data starts 8-byte aligned
  std::string bytes(8, '\0');
  const uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) bytes[i] = char((n >> (8 * i)) & 0xFF);  // little-endian
  bytes += h;
  // The header digest is that of these bytes as they are, its own place holding zeros; it then fills it.
  const std::string blank = header_digest_entry(kBlankDigest);
  const uint64_t hash = fnv1a(bytes.data(), bytes.size(), kFnvOffset);
  bytes.replace(bytes.find(blank), blank.size(), header_digest_entry(hex16(hash)));
  bytes += data;
  write_file_atomically(path, bytes);
}

void save_module(const std::string& path, const Module& module, const Metadata& metadata) {
  save_safetensors(path, module.state(), metadata);
}

std::map<std::string, Tensor> load_safetensors(const std::string& path, Metadata* metadata) {
  std::ifstream in;
  const Header header = read_header(path, in);
  if (metadata) *metadata = header.metadata;
  std::map<std::string, Tensor> out;
  // The entries are in offset order and fill the data section (read_header), so the data is read once, in
  // order, and digested as it is read.
  uint64_t hash = kFnvOffset;
  in.seekg(std::streamoff(header.data_start));
  for (const Entry& e : header.entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    const uint64_t nbytes = e.end - e.begin;
    in.read(static_cast<char*>(t.raw_data()), std::streamsize(nbytes));
    SSL_CHECK(in && uint64_t(in.gcount()) == nbytes, "cannot read checkpoint '", path, "': tensor '", e.name,
              "' gave ", in.gcount(), " of its ", nbytes, " bytes");
    hash = fnv1a(static_cast<const char*>(t.raw_data()), size_t(nbytes), hash);
    out.emplace(e.name, t);
  }
  if (!header.data_digest.empty()) {
    SSL_CHECK(hex16(hash) == header.data_digest, path,
              ": the tensors' bytes do not match the digest saved with", " them (", kDataDigestKey, " ",
              header.data_digest, ", the bytes give ", hex16(hash),
              "): the file was damaged or changed after it was written");
  }
  return out;
}

int64_t metadata_integer(const Metadata& metadata, const std::string& key, const std::string& path) {
  const auto it = metadata.find(key);
  SSL_CHECK(it != metadata.end(), path, ": metadata lacks '", key, "'");
  const std::string& text = it->second;
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  SSL_CHECK(ec == std::errc() && end == text.data() + text.size() && value > 0, path, ": metadata '", key,
            "' is \"", text, "\"; expected a positive whole number");
  return value;
}

Metadata read_safetensors_metadata(const std::string& path) {
  std::ifstream in;
  return read_header(path, in).metadata;
}

void load_module(const std::string& path, Module& module, Metadata* metadata) {
  std::map<std::string, Tensor> stored = load_safetensors(path, metadata);
  // Everything is checked before anything is copied, so a file that does not fit leaves the module as it was.
  std::vector<std::pair<Tensor, Tensor>> copies;  // (the module's tensor, the file's)
  std::set<std::string> used;
  for (auto& [name, target] : module.state()) {
    auto it = stored.find(name);
    SSL_CHECK(it != stored.end(), path, ": the model expects tensor '", name,
              "' but the file does not have it");
    SSL_CHECK(it->second.shape() == target.shape() && it->second.dtype() == target.dtype(), path,
              ": tensor '", name, "' is ", dtype_name(it->second.dtype()), " ", it->second.shape(),
              " in the file but the model expects ", dtype_name(target.dtype()), " ", target.shape());
    // Its digests only say the file is as written; a file without them, or written from weights that had
    // diverged, would make every output NaN and every score a guess.
    const int64_t bad = first_non_finite(it->second);
    SSL_CHECK(bad < 0, path, ": tensor '", name, "' holds a NaN or an infinity (element ", bad,
              "); a model cannot run on it (were the weights saved after a training diverged?)");
    copies.emplace_back(target, it->second);
    used.insert(name);
  }
  for (const auto& [name, t] : stored) {
    SSL_CHECK(used.count(name), path, ": tensor '", name, "' in the file is not part of the model");
  }
  NoGradGuard no_grad;
  for (auto& [dst, src] : copies) dst.copy_(src);
}

}  // namespace ssl::nn
