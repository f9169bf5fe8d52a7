// The .npy writer: header layout and data, checked byte by byte.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>

#include "ssl/npy.h"
#include "support/temp_dir.h"

using namespace ssl;

TEST_CASE("npy: float32 matrix and int64 vector") {
  const Tensor x = Tensor::from_vector<float>({1.5f, -2, 3, 4.25f, 5, 6}, {2, 3});
  const std::string f = npy_bytes(x);
  REQUIRE(f.size() > 10);
  CHECK(f.compare(0, 6, "\x93NUMPY") == 0);
  CHECK(f[6] == 1);
  CHECK(f[7] == 0);
  const size_t header_len = uint8_t(f[8]) | (size_t(uint8_t(f[9])) << 8);
  CHECK((10 + header_len) % 64 == 0);  // the data starts aligned
  const std::string header = f.substr(10, header_len);
  CHECK(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 0) == 0);
  CHECK(header.back() == '\n');
  REQUIRE(f.size() == 10 + header_len + 6 * sizeof(float));
  float data[6];
  std::memcpy(data, f.data() + 10 + header_len, sizeof data);
  CHECK(data[0] == 1.5f);
  CHECK(data[3] == 4.25f);
  CHECK(data[5] == 6.0f);

  const std::string l = npy_bytes(Tensor::from_vector<int64_t>({7, -1}, {2}));
  CHECK(l.find("'descr': '<i8'") != std::string::npos);
  CHECK(l.find("'shape': (2,)") != std::string::npos);
  int64_t labels[2];
  std::memcpy(labels, l.data() + l.size() - sizeof labels, sizeof labels);
  CHECK(labels[0] == 7);
  CHECK(labels[1] == -1);
}

TEST_CASE("npy: a transposed view is written in C order") {
  const Tensor x = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3}).transpose(0, 1);
  const std::string f = npy_bytes(x);
  CHECK(f.find("'shape': (3, 2)") != std::string::npos);
  double data[6];
  std::memcpy(data, f.data() + f.size() - sizeof data, sizeof data);
  CHECK(data[0] == 1);
  CHECK(data[1] == 4);
  CHECK(data[2] == 2);
}

TEST_CASE("npy: the file is written under its directory, made if missing, and only under a .npy name") {
  const test::TempDir dir("npy_write");
  const Tensor x = Tensor::from_vector<float>({1, 2}, {2});
  const std::string nested = dir.path() + "/features/seed_0/x.npy";
  write_npy(nested, x);
  CHECK(std::filesystem::file_size(nested) == npy_bytes(x).size());
  CHECK_THROWS_WITH_AS(write_npy(dir.path() + "/x.txt", x),
                       doctest::Contains("should end in .npy (the file is in NumPy's format)"), ssl::Error);
  CHECK_FALSE(std::filesystem::exists(dir.path() + "/x.txt"));
}
