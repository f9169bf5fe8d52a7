#include <doctest/doctest.h>
#include <sys/stat.h>  // mkfifo

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset_files.h"
#include "data/file_reader.h"
#include "file_test_util.h"

using namespace ssl;
using namespace ssl::data;
using ssl::test::contains;
using ssl::test::error_of;
using ssl::test::TempDir;

TEST_CASE("FileReader: reads at any offset, refuses what is not there") {
  TempDir dir;
  std::vector<uint8_t> bytes(1000);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = uint8_t(i * 7);
  ssl::test::write_bytes(dir / "f.bin", bytes);
  const FileReader f(dir / "f.bin");
  CHECK(f.size() == 1000);
  CHECK(f.path() == dir / "f.bin");
  CHECK(f.read_all() == bytes);
  std::vector<uint8_t> part(10);
  f.read_at(990, part.data(), 10);
  CHECK(part == std::vector<uint8_t>(bytes.begin() + 990, bytes.end()));
  const std::string past = error_of([&] { f.read_at(995, part.data(), 10); });
  CHECK(contains(past, dir / "f.bin"));
  CHECK(contains(past, "expected 10 bytes at offset 995, found only 5"));
  CHECK(contains(error_of([&] { f.read_at(-1, part.data(), 1); }), "bad read"));

  const std::string missing = error_of([&] { FileReader(dir / "nope.bin"); });
  CHECK(contains(missing, dir / "nope.bin"));
  CHECK(contains(missing, "cannot open"));
  CHECK(contains(error_of([&] { FileReader(dir.path()); }), "expected a regular file, found a directory"));
  // A named pipe is refused at once rather than waiting for a writer that never comes.
  REQUIRE(::mkfifo((dir / "pipe").c_str(), 0600) == 0);
  CHECK(
      contains(error_of([&] { FileReader(dir / "pipe"); }), "expected a regular file, found something else"));
}

TEST_CASE("class-name files: CRLF, blanks around names, trailing blank lines") {
  TempDir dir;
  ssl::test::write_text(dir / "names.txt", "cat\r\n  dog \r\nsea lion\n\n \n");
  CHECK(read_text_lines(dir / "names.txt") == std::vector<std::string>{"cat", "  dog ", "sea lion"});
  CHECK(read_class_names(dir / "names.txt", 3) == std::vector<std::string>{"cat", "dog", "sea lion"});
  CHECK(
      contains(error_of([&] { read_class_names(dir / "names.txt", 4); }), "expected 4 class names, found 3"));
  ssl::test::write_text(dir / "gap.txt", "cat\n\ndog\n");
  const std::string msg = error_of([&] { read_class_names(dir / "gap.txt", 3); });
  CHECK(contains(msg, dir / "gap.txt"));
  CHECK(contains(msg, "line 2 is blank"));
  ssl::test::write_text(dir / "last.txt", "cat\ndog");  // no final newline
  CHECK(read_class_names(dir / "last.txt", 2) == std::vector<std::string>{"cat", "dog"});
}

TEST_CASE("dataset directories") {
  TempDir dir;
  CHECK(join_path("a", "b") == "a/b");
  CHECK(join_path("a/", "b") == "a/b");
  CHECK(error_of([&] { require_directory(dir.path(), "test"); }) == "<no error>");
  CHECK(contains(error_of([&] { require_directory(dir / "x", "test"); }),
                 "test directory '" + (dir / "x") + "' not found"));
}
