// Fuzzes the safetensors checkpoint reader (nn::load_safetensors): the input is written as a .safetensors
// file and loaded with its metadata. ssl::Error is the expected answer to a bad file; any other exception, a
// crash or a sanitizer report is a finding.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "nn/checkpoint.h"
#include "tests/fuzz/fuzz_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = ssl::fuzz::scratch() / "input.safetensors";
  ssl::fuzz::write_file(path, data, size);
  try {
    ssl::nn::Metadata metadata;
    const auto tensors = ssl::nn::load_safetensors(path, &metadata);
    for (const auto& [name, t] : tensors) {
      if (t.numel() < 0 || !t.is_contiguous()) __builtin_trap();
    }
  } catch (const ssl::Error&) {
  }
  return 0;
}
