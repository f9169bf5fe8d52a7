// Fuzzes the safetensors checkpoint reader (nn::load_safetensors, nn::read_safetensors_metadata): the input
// is written as a .safetensors file, its metadata read, then the file loaded. ssl::Error is the expected
// answer to a bad file; any other exception, a crash or a sanitizer report is a finding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "nn/checkpoint.h"
#include "tests/fuzz/fuzz_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = ssl::fuzz::scratch() / "input.safetensors";
  ssl::fuzz::write_file(path, data, size);
  bool header_read = false;
  try {
    // The metadata alone comes from the header, checked the same way: it is refused when the whole file is
    // (but for a damaged data section), and otherwise agrees with it.
    const ssl::nn::Metadata from_header = ssl::nn::read_safetensors_metadata(path);
    header_read = true;
    ssl::nn::Metadata metadata;
    const auto tensors = ssl::nn::load_safetensors(path, &metadata);
    if (metadata != from_header) __builtin_trap();
    for (const auto& [name, t] : tensors) {
      if (t.numel() < 0 || !t.is_contiguous()) __builtin_trap();
    }
  } catch (const ssl::Error& e) {
    // The header passed but the file did not: only the data's digest, which only a load reads, may do that.
    if (header_read &&
        std::string_view(e.what()).find("do not match the digest saved with them") == std::string_view::npos)
      __builtin_trap();
  }
  return 0;
}
