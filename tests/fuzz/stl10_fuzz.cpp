// Fuzzes the STL-10 binary reader (data::Stl10Dataset). Input layout:
//   byte 0          bit 0 set: the unlabeled split (unlabeled_X.bin only); clear: the test split
//   byte 1          n, the length of class_names.txt
//   byte 2          m, the length of test_y.bin
//   next n bytes    class_names.txt, then m bytes test_y.bin (both cut to what the input holds)
//   the rest        the X file ([N][3][96][96] bytes)
// The dataset is opened and every image() and label() read. ssl::Error is the expected answer to a bad file;
// any other exception, a crash or a sanitizer report is a finding.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "data/stl10.h"
#include "tests/fuzz/fuzz_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const ssl::fuzz::ScratchDir& dir = ssl::fuzz::scratch();
  const bool unlabeled = data[0] & 1;
  const uint8_t* rest = data + 3;
  size_t left = size - 3;
  const size_t names = std::min<size_t>(data[1], left);
  ssl::fuzz::write_file(dir / "class_names.txt", rest, names);
  rest += names, left -= names;
  const size_t labels = std::min<size_t>(data[2], left);
  ssl::fuzz::write_file(dir / "test_y.bin", rest, labels);
  rest += labels, left -= labels;
  ssl::fuzz::write_file(dir / (unlabeled ? "unlabeled_X.bin" : "test_X.bin"), rest, left);
  ssl::fuzz::remove_file(dir / (unlabeled ? "test_X.bin" : "unlabeled_X.bin"));
  try {
    const ssl::data::Stl10Dataset ds(dir.path(),
                                     unlabeled ? ssl::data::Split::unlabeled : ssl::data::Split::test);
    int64_t sum = 0;
    for (int64_t i = 0; i < ds.size(); ++i) {
      const ssl::data::Image img = ds.image(i);
      sum += img.pixels.back();
      const int64_t label = ds.label(i);
      if (label < -1 || label >= ssl::data::Stl10Dataset::kClasses) __builtin_trap();
    }
    if (sum < 0) __builtin_trap();
    (void)ds.class_names();
    (void)ds.name();
  } catch (const ssl::Error&) {
  }
  return 0;
}
