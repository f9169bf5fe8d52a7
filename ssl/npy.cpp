#include "ssl/npy.h"

#include <bit>
#include <cstring>
#include <filesystem>

#include "nn/checkpoint.h"

namespace ssl {

std::string npy_bytes(const Tensor& t_in) {
  static_assert(std::endian::native == std::endian::little, "the .npy writer assumes a little-endian host");
  const Tensor t = t_in.contiguous();
  const char* descr = t.dtype() == DType::f32   ? "<f4"
                      : t.dtype() == DType::f64 ? "<f8"
                      : t.dtype() == DType::i64 ? "<i8"
                                                : nullptr;
  SSL_CHECK(descr, "npy: unsupported dtype ", dtype_name(t.dtype()));
  std::string shape;  // a Python tuple: "N, F", or "N," for one dimension
  for (int64_t d : t.shape()) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
  if (t.dim() == 1) shape += ",";
  std::string header = str_cat("{'descr': '", descr, "', 'fortran_order': False, 'shape': (", shape, "), }");
  const size_t preamble = 10;  // magic (6) + version (2) + header length (2)
  header.append((64 - (preamble + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += char(1);
  out += char(0);
  out += char(header.size() & 0xff);
  out += char(header.size() >> 8);
  out += header;
  const size_t bytes = size_t(t.numel()) * dtype_size(t.dtype());
  const size_t start = out.size();
  out.resize(start + bytes);
  if (bytes) std::memcpy(out.data() + start, t.raw_data(), bytes);
  return out;
}

void write_npy(const std::string& path, const Tensor& t) {
  SSL_CHECK(std::filesystem::path(path).extension() == ".npy", "write_npy: '", path,
            "' should end in .npy (the file is in NumPy's format)");
  nn::make_parent_directories(path);
  nn::write_file_atomically(path, npy_bytes(t));
}

}  // namespace ssl
