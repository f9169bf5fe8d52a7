// Fuzzes the CIFAR-10 binary reader (data::Cifar10Dataset, test split). Input layout:
//   byte 0          n, the length of the class-name text (cut to what the input holds)
//   next n bytes    batches.meta.txt
//   the rest        test_batch.bin (3073-byte records: label byte, 3072 pixel bytes)
// The dataset is opened and every image() and label() read. ssl::Error is the expected answer to a bad file;
// any other exception, a crash or a sanitizer report is a finding.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "data/cifar10.h"
#include "tests/fuzz/fuzz_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const ssl::fuzz::ScratchDir& dir = ssl::fuzz::scratch();
  const size_t meta = std::min<size_t>(data[0], size - 1);
  ssl::fuzz::write_file(dir / "batches.meta.txt", data + 1, meta);
  ssl::fuzz::write_file(dir / "test_batch.bin", data + 1 + meta, size - 1 - meta);
  try {
    const ssl::data::Cifar10Dataset ds(dir.path(), ssl::data::Split::test);
    int64_t sum = 0;
    for (int64_t i = 0; i < ds.size(); ++i) {
      const ssl::data::Image img = ds.image(i);
      sum += img.pixels.front() + ds.label(i);
    }
    if (sum < 0) __builtin_trap();  // labels and pixels are never negative
    (void)ds.class_names();
    (void)ds.name();
  } catch (const ssl::Error&) {
  }
  return 0;
}
