// safetensors checkpoints: round trip, atomic writes, and a clear error for every kind of damage.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <limits>

#include "nn/checkpoint.h"
#include "nn/models.h"
#include "support/temp_dir.h"

using namespace ssl;
namespace fs = std::filesystem;

namespace {
// This process's scratch files, removed when the test program exits.
const test::TempDir kScratch("ssl_ckpt_test");

std::string temp_path(const std::string& name) { return kScratch.path() + "/" + name; }
std::string read_all(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void write_all(const std::string& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}
}  // namespace

TEST_CASE("a module's state survives a round trip, names in PyTorch style") {
  manual_seed(1);
  auto a = nn::convnet2();
  manual_seed(2);
  auto b = nn::convnet2();
  const std::string path = temp_path("convnet2.safetensors");
  nn::save_module(path, *a, {{"model", "convnet2"}});
  CHECK_FALSE(fs::exists(path + ".tmp." + std::to_string(::getpid())));
  CHECK(a->state()[0].first == "0.weight");
  CHECK(a->state()[2].first == "3.weight");
  REQUIRE(a->state()[0].second.to_vector<float>() != b->state()[0].second.to_vector<float>());
  nn::Metadata meta;
  nn::load_module(path, *b, &meta);
  CHECK(meta["model"] == "convnet2");
  for (size_t i = 0; i < a->state().size(); ++i)
    CHECK(a->state()[i].second.to_vector<float>() == b->state()[i].second.to_vector<float>());
  // The header is the standard one: 8-byte length, then JSON with dtype/shape/data_offsets.
  const std::string bytes = read_all(path);
  CHECK(bytes.find("\"dtype\":\"F32\"") != std::string::npos);
  CHECK(bytes.find("\"0.weight\"") != std::string::npos);
}

TEST_CASE("damaged or mismatched checkpoints give errors naming the file and the tensor") {
  auto model = nn::convnet2();
  const std::string path = temp_path("good.safetensors");
  nn::save_module(path, *model);
  const std::string good = read_all(path);

  const std::string truncated = temp_path("truncated.safetensors");
  write_all(truncated, good.substr(0, good.size() - 100));
  CHECK_THROWS_WITH_AS(nn::load_module(truncated, *model), doctest::Contains("truncated.safetensors"),
                       ssl::Error);
  CHECK_THROWS_WITH_AS(nn::load_module(truncated, *model), doctest::Contains("outside the file"), ssl::Error);

  const std::string tiny = temp_path("tiny.safetensors");
  write_all(tiny, "abc");
  CHECK_THROWS_WITH_AS(nn::load_module(tiny, *model), doctest::Contains("too short"), ssl::Error);

  std::string bad_json = good;
  bad_json[8] = '#';  // the opening brace of the JSON header
  const std::string corrupt = temp_path("corrupt.safetensors");
  write_all(corrupt, bad_json);
  CHECK_THROWS_WITH_AS(nn::load_module(corrupt, *model), doctest::Contains("not valid JSON"), ssl::Error);
  // A binary byte where the JSON starts is quoted as \xNN, not written to the terminal as it is.
  bad_json[8] = '\xff';
  write_all(corrupt, bad_json);
  CHECK_THROWS_WITH_AS(nn::load_module(corrupt, *model), doctest::Contains("\\xff"), ssl::Error);
  try {
    nn::load_module(corrupt, *model);
  } catch (const ssl::Error& e) {
    CHECK(std::string(e.what()).find('\xff') == std::string::npos);
  }

  nn::Linear linear(3, 4);
  CHECK_THROWS_WITH_AS(nn::load_module(path, linear), doctest::Contains("'weight'"), ssl::Error);

  nn::save_safetensors(temp_path("wrong_shape.safetensors"), {{"0.weight", Tensor::zeros({1, 2})}});
  CHECK_THROWS_WITH_AS(nn::load_module(temp_path("wrong_shape.safetensors"), *model),
                       doctest::Contains("tensor '0.weight' is float32 [1, 2] in the file"), ssl::Error);
  // A file whose first tensors fit but a later one does not leaves the module as it was, every tensor.
  std::vector<std::pair<std::string, Tensor>> partial;
  for (const auto& [name, t] : model->state()) partial.emplace_back(name, Tensor::full(t.shape(), 7.0));
  partial.pop_back();
  nn::save_safetensors(temp_path("partial.safetensors"), partial);
  const std::vector<float> before = model->state()[0].second.to_vector<float>();
  CHECK_THROWS_WITH_AS(nn::load_module(temp_path("partial.safetensors"), *model),
                       doctest::Contains("but the file does not have it"), ssl::Error);
  CHECK(model->state()[0].second.to_vector<float>() == before);
  // Weights that are not numbers are refused, naming the tensor and the element, and nothing is copied.
  std::vector<std::pair<std::string, Tensor>> with_nan;
  for (const auto& [name, t] : model->state()) with_nan.emplace_back(name, Tensor::full(t.shape(), 7.0));
  std::vector<float> last = with_nan.back().second.to_vector<float>();
  last[1] = std::numeric_limits<float>::quiet_NaN();
  with_nan.back().second = Tensor::from_vector(last, with_nan.back().second.shape());
  nn::save_safetensors(temp_path("nan.safetensors"), with_nan);
  const std::string expected =
      "tensor '" + with_nan.back().first + "' holds a NaN or an infinity (element 1)";
  CHECK_THROWS_WITH_AS(nn::load_module(temp_path("nan.safetensors"), *model),
                       doctest::Contains(expected.c_str()), ssl::Error);
  CHECK(model->state()[0].second.to_vector<float>() == before);
  CHECK_THROWS_WITH_AS(nn::load_module(temp_path("missing.safetensors"), *model),
                       doctest::Contains("missing.safetensors': no such file"), ssl::Error);
  // A directory is refused before anything is read (its reported size is not a byte count).
  CHECK_THROWS_WITH_AS(nn::load_module(kScratch.path(), *model), doctest::Contains("not a regular file"),
                       ssl::Error);
}

TEST_CASE("a header with absurd shapes or non-integer numbers is refused, not allocated") {
  // A file of the JSON header `header` (padded to 8 bytes, after its length) and then `data`.
  const auto write_header = [](const std::string& name, std::string header, const std::string& data = "") {
    header.append((8 - header.size() % 8) % 8, ' ');
    std::string bytes(8, '\0');
    for (int i = 0; i < 8; ++i) bytes[size_t(i)] = char((header.size() >> (8 * i)) & 0xFF);
    write_all(temp_path(name), bytes + header + data);
    return temp_path(name);
  };
  // Each file holds one tensor entry `entry` and 8 data bytes.
  const auto write_entry = [&](const std::string& name, const std::string& entry) {
    return write_header(name, "{\"t\":" + entry + "}", std::string(8, 'x'));
  };
  // Metadata is a map of strings to strings in the format: a number or a list is a damaged or foreign file.
  CHECK_THROWS_WITH_AS(nn::read_safetensors_metadata(
                           write_header("meta_number.safetensors", R"({"__metadata__":{"epoch":[1]}})")),
                       doctest::Contains("metadata 'epoch' must be a string, found [1]"), ssl::Error);
  CHECK_THROWS_WITH_AS(
      nn::read_safetensors_metadata(write_header("meta_list.safetensors", R"({"__metadata__":["a"]})")),
      doctest::Contains("__metadata__ must be an object of strings"), ssl::Error);
  CHECK(
      nn::read_safetensors_metadata(write_header("meta_ok.safetensors", R"({"__metadata__":{"epoch":"1"}})"))
          .at("epoch") == "1");
  // The header is JSON: a tensor may not take the metadata's name, and every name and value is UTF-8.
  CHECK_THROWS_WITH_AS(
      nn::save_safetensors(temp_path("reserved.safetensors"), {{"__metadata__", Tensor::ones({2})}}),
      doctest::Contains("'__metadata__' is the format's own entry"), ssl::Error);
  CHECK_THROWS_WITH_AS(nn::save_safetensors(temp_path("latin1.safetensors"), {{"w", Tensor::ones({2})}},
                                            {{"note", "caf\xE9"}}),
                       doctest::Contains("the value of metadata 'note' is not UTF-8 text (byte 3 is 0xE9"),
                       ssl::Error);
  CHECK_THROWS_WITH_AS(nn::save_safetensors(temp_path("latin1.safetensors"), {{"w\xC3", Tensor::ones({2})}}),
                       doctest::Contains("a tensor name is not UTF-8 text"), ssl::Error);
  // Nested 100,000 deep, a value overflowed the stack when the error message printed it.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK_THROWS_WITH_AS(nn::read_safetensors_metadata(
                           write_header("deep.safetensors", "{\"__metadata__\":{\"note\":" + deep + "}}")),
                       doctest::Contains("deep.safetensors's header: JSON nested more than 64 levels deep"),
                       ssl::Error);
  // 2^62 x 4 elements: the element count overflows (and wrapped to 0 before).
  const std::string overflow = write_entry(
      "overflow.safetensors", R"({"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]})");
  CHECK_THROWS_WITH_AS(nn::load_safetensors(overflow), doctest::Contains("overflow.safetensors"), ssl::Error);
  CHECK_THROWS_WITH_AS(nn::load_safetensors(overflow), doctest::Contains("too large to address"), ssl::Error);
  // A zero dimension does not hide the others: their strides would overflow.
  const std::string zero = write_entry(
      "zero.safetensors",
      R"({"dtype":"F32","shape":[0,4611686018427387904,4611686018427387904],"data_offsets":[0,0]})");
  CHECK_THROWS_WITH_AS(nn::load_safetensors(zero), doctest::Contains("too large to address"), ssl::Error);
  // Elements that fit but bytes that do not: 2^62 float64 values.
  const std::string bytes = write_entry(
      "bytes.safetensors", R"({"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,0]})");
  CHECK_THROWS_WITH_AS(nn::load_safetensors(bytes), doctest::Contains("too large to address"), ssl::Error);
  // Fractional, out-of-range and negative numbers in the shape and the offsets.
  const std::string fraction =
      write_entry("fraction.safetensors", R"({"dtype":"F32","shape":[1e300],"data_offsets":[0,4]})");
  CHECK_THROWS_WITH_AS(nn::load_safetensors(fraction), doctest::Contains("expected a non-negative integer"),
                       ssl::Error);
  const std::string negative =
      write_entry("negative.safetensors", R"({"dtype":"F32","shape":[-1],"data_offsets":[0,4]})");
  CHECK_THROWS_WITH_AS(nn::load_safetensors(negative), doctest::Contains("shape entry -1"), ssl::Error);
  const std::string offsets =
      write_entry("offsets.safetensors", R"({"dtype":"F32","shape":[1],"data_offsets":[1e300,4]})");
  CHECK_THROWS_WITH_AS(nn::load_safetensors(offsets), doctest::Contains("data_offsets entry"), ssl::Error);
  const std::string not_list =
      write_entry("not_list.safetensors", R"({"dtype":"F32","shape":3,"data_offsets":[0,4]})");
  CHECK_THROWS_WITH_AS(nn::load_safetensors(not_list), doctest::Contains("not a list"), ssl::Error);
  // A well-formed entry in the same kind of file still loads.
  const std::string good =
      write_entry("good.safetensors", R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})");
  CHECK(nn::load_safetensors(good).at("t").shape() == Shape{2});
}

TEST_CASE("a byte changed in the tensors' data is caught by the digest saved with them") {
  auto model = nn::convnet2();
  const std::string path = temp_path("digest.safetensors");
  nn::save_module(path, *model, {{"model", "convnet2"}});
  std::string bytes = read_all(path);
  // The digest is the reader's own business: not handed back with the metadata, and not the caller's to set.
  CHECK(nn::read_safetensors_metadata(path) == nn::Metadata{{"model", "convnet2"}});
  CHECK_THROWS_WITH_AS(
      nn::save_module(temp_path("reserved.safetensors"), *model, {{"ssl.data_fnv1a64", "0"}}),
      doctest::Contains("reserved"), ssl::Error);

  // One bit flipped in the last weight: the header still parses and every size still matches.
  const std::string flipped = temp_path("flipped_data.safetensors");
  bytes[bytes.size() - 3] = char(bytes[bytes.size() - 3] ^ 0x10);
  write_all(flipped, bytes);
  CHECK_THROWS_WITH_AS(nn::load_module(flipped, *model), doctest::Contains("flipped_data.safetensors"),
                       ssl::Error);
  CHECK_THROWS_WITH_AS(nn::load_safetensors(flipped), doctest::Contains("do not match the digest"),
                       ssl::Error);
  CHECK_NOTHROW(nn::load_module(path, *model));
}

TEST_CASE("a byte changed in the header is caught by the digest saved in it") {
  auto model = nn::convnet2();
  const std::string path = temp_path("header.safetensors");
  nn::save_module(path, *model, {{"lr", "0.001"}, {"global_step", "4"}});
  const std::string good = read_all(path);
  CHECK(nn::read_safetensors_metadata(path) == nn::Metadata{{"lr", "0.001"}, {"global_step", "4"}});
  CHECK_THROWS_WITH_AS(
      nn::save_module(temp_path("reserved.safetensors"), *model, {{"ssl.header_fnv1a64", "0"}}),
      doctest::Contains("reserved"), ssl::Error);

  // `good` with its first `from` replaced by `to`, of the same length: every size and offset still matches.
  const auto changed = [&](const std::string& name, const std::string& from, const std::string& to) {
    std::string bytes = good;
    const size_t at = bytes.find(from);
    REQUIRE(at != std::string::npos);
    REQUIRE(from.size() == to.size());
    bytes.replace(at, from.size(), to);
    write_all(temp_path(name), bytes);
    return temp_path(name);
  };
  // A learning rate or a step count that a resumed run would otherwise take as it reads.
  const std::string lr = changed("changed_lr.safetensors", "\"lr\":\"0.001\"", "\"lr\":\"0.009\"");
  CHECK_THROWS_WITH_AS(nn::load_module(lr, *model), doctest::Contains("changed_lr.safetensors"), ssl::Error);
  CHECK_THROWS_WITH_AS(nn::load_module(lr, *model), doctest::Contains("damaged"), ssl::Error);
  // The metadata alone is checked as well: it is read from the same header.
  CHECK_THROWS_WITH_AS(nn::read_safetensors_metadata(lr), doctest::Contains("damaged"), ssl::Error);
  const std::string step =
      changed("changed_step.safetensors", "\"global_step\":\"4\"", "\"global_step\":\"9\"");
  CHECK_THROWS_WITH_AS(nn::load_safetensors(step), doctest::Contains("changed_step.safetensors: the header"),
                       ssl::Error);
  // A damaged name of the data's digest no longer turns its check off: the header digest covers the name.
  const std::string data_key = changed("data_key.safetensors", "ssl.data_fnv1a64", "ssl.data_fnv1a65");
  CHECK_THROWS_WITH_AS(nn::load_safetensors(data_key), doctest::Contains("damaged"), ssl::Error);
  // The header digest's own value, and a tensor's dtype.
  const size_t entry = good.find("\"ssl.header_fnv1a64\":\"");
  REQUIRE(entry != std::string::npos);
  const std::string saved = good.substr(entry + 22, 16);  // after the key, the colon and the quote
  const std::string digest = changed("digest.safetensors", saved, std::string(16, '0'));
  CHECK_THROWS_WITH_AS(nn::load_safetensors(digest), doctest::Contains("damaged"), ssl::Error);
  const std::string dtype = changed("dtype.safetensors", "\"F32\"", "\"I32\"");
  CHECK_THROWS_WITH_AS(nn::load_safetensors(dtype), doctest::Contains("damaged"), ssl::Error);
  CHECK_NOTHROW(nn::load_module(path, *model));
}

TEST_CASE("a checkpoint written before the header digest still loads, its data still checked") {
  auto model = nn::convnet2();
  const std::string path = temp_path("new_format.safetensors");
  nn::save_module(path, *model, {{"model", "convnet2"}});
  // The file an older version wrote: the same header without the header digest's entry (spaces instead, so
  // that the offsets stay), and the data's digest.
  std::string bytes = read_all(path);
  const size_t at = bytes.find(",\"ssl.header_fnv1a64\":\"");
  REQUIRE(at != std::string::npos);
  bytes.replace(at, 40, std::string(40, ' '));
  const std::string old_format = temp_path("old_format.safetensors");
  write_all(old_format, bytes);
  CHECK(nn::read_safetensors_metadata(old_format) == nn::Metadata{{"model", "convnet2"}});
  CHECK_NOTHROW(nn::load_module(old_format, *model));
  bytes[bytes.size() - 3] = char(bytes[bytes.size() - 3] ^ 0x10);
  write_all(old_format, bytes);
  CHECK_THROWS_WITH_AS(nn::load_module(old_format, *model), doctest::Contains("do not match the digest"),
                       ssl::Error);

  // A damaged name of the header digest makes a file like an older one: its data is still checked, and its
  // header is otherwise as it was written (the one damaged byte is in that name), so it loads.
  bytes = read_all(path);
  const size_t name = bytes.find("ssl.header_fnv1a64");
  REQUIRE(name != std::string::npos);
  bytes[name + 17] = 'X';
  const std::string damaged_name = temp_path("damaged_name.safetensors");
  write_all(damaged_name, bytes);
  CHECK_NOTHROW(nn::load_module(damaged_name, *model));
  // The damaged entry is not handed back as metadata of the caller's: "ssl." keys are the format's own.
  for (const auto& [key, value] : nn::read_safetensors_metadata(damaged_name))
    CHECK_FALSE(key.starts_with("ssl."));
}

TEST_CASE("a write removes the temporary files of dead processes beside its file, never a live one's") {
  const std::string dir = temp_path("stale");
  fs::create_directories(dir);
  const std::string path = dir + "/checkpoint.safetensors";
  // A process that has exited and been reaped: its pid names no process now.
  const pid_t dead = ::fork();
  REQUIRE(dead >= 0);
  if (dead == 0) ::_exit(0);
  REQUIRE(::waitpid(dead, nullptr, 0) == dead);
  // A process still running, as another run writing the same file would be.
  const pid_t live = ::fork();
  REQUIRE(live >= 0);
  if (live == 0) {
    ::pause();
    ::_exit(0);
  }
  const std::string left_by_dead = path + ".tmp." + std::to_string(dead);
  const std::string left_by_live = path + ".tmp." + std::to_string(live);
  const std::vector<std::string> not_temporary = {path + ".tmp.", path + ".tmp.12x",
                                                  path + ".tmp.0" + std::to_string(dead), path + ".tmp",
                                                  dir + "/other.safetensors.tmp." + std::to_string(dead)};
  for (const std::string& p : not_temporary) write_all(p, "x");
  write_all(left_by_dead, "half a checkpoint");
  write_all(left_by_live, "half a checkpoint");

  nn::write_file_atomically(path, "the checkpoint");
  CHECK(read_all(path) == "the checkpoint");
  CHECK_FALSE(fs::exists(left_by_dead));
  CHECK(fs::exists(left_by_live));
  for (const std::string& p : not_temporary) CHECK(fs::exists(p));
  CHECK_FALSE(fs::exists(path + ".tmp." + std::to_string(::getpid())));
  ::kill(live, SIGKILL);
  ::waitpid(live, nullptr, 0);
}

TEST_CASE("metadata integers: a positive whole number, or an error naming the file, the key and the text") {
  const nn::Metadata meta = {
      {"size", "32"}, {"huge", "99999999999999999999"}, {"partial", "3x"}, {"zero", "0"}};
  CHECK(nn::metadata_integer(meta, "size", "f.safetensors") == 32);
  CHECK_THROWS_WITH_AS(nn::metadata_integer(meta, "huge", "f.safetensors"),
                       doctest::Contains("f.safetensors: metadata 'huge' is \"99999999999999999999\""),
                       ssl::Error);
  CHECK_THROWS_WITH_AS(nn::metadata_integer(meta, "partial", "f.safetensors"),
                       doctest::Contains("expected a positive whole number"), ssl::Error);
  CHECK_THROWS_AS(nn::metadata_integer(meta, "zero", "f.safetensors"), ssl::Error);
  CHECK_THROWS_WITH_AS(nn::metadata_integer(meta, "classes", "f.safetensors"),
                       doctest::Contains("metadata lacks 'classes'"), ssl::Error);
}

TEST_CASE("the metadata comes from the header alone, checked against the file's size") {
  auto model = nn::convnet2();
  const std::string path = temp_path("with_metadata.safetensors");
  nn::save_module(path, *model, {{"model", "convnet2"}, {"image_size", "32"}});
  nn::Metadata loaded;
  nn::load_safetensors(path, &loaded);
  CHECK(nn::read_safetensors_metadata(path) == loaded);
  CHECK(loaded == nn::Metadata{{"model", "convnet2"}, {"image_size", "32"}});

  // A cut in the data is seen without reading it: the header's offsets run past the file's end.
  const std::string good = read_all(path);
  const std::string truncated = temp_path("truncated_metadata.safetensors");
  write_all(truncated, good.substr(0, good.size() - 1));
  CHECK_THROWS_WITH_AS(nn::read_safetensors_metadata(truncated), doctest::Contains("outside the file"),
                       ssl::Error);
  CHECK_THROWS_WITH_AS(nn::read_safetensors_metadata(temp_path("absent.safetensors")),
                       doctest::Contains("no such file"), ssl::Error);
}

TEST_CASE("each tensor is read at its own offsets, whatever their order in the data") {
  // "a" holds the second 8 bytes, "b" the first: two float32 values each.
  const float values[4] = {1.5f, -2.0f, 3.25f, 4.0f};
  std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},)"
                       R"("b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[size_t(i)] = char((header.size() >> (8 * i)) & 0xFF);
  bytes += header + std::string(reinterpret_cast<const char*>(values), sizeof values);
  const std::string path = temp_path("reordered.safetensors");
  write_all(path, bytes);
  const auto tensors = nn::load_safetensors(path);
  CHECK(tensors.at("a").to_vector<float>() == std::vector<float>{3.25f, 4.0f});
  CHECK(tensors.at("b").to_vector<float>() == std::vector<float>{1.5f, -2.0f});
}

TEST_CASE("the tensors must fill the data section: a gap, an overlap or trailing bytes are refused") {
  // A file of two float32 tensors "a" and "b" at `a` and `b` (data offsets), then `data_bytes` bytes.
  const auto write_two = [](const std::string& name, const std::string& a, const std::string& b,
                            size_t data_bytes) {
    std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":)" + a +
                         R"(},"b":{"dtype":"F32","shape":[2],"data_offsets":)" + b + "}}";
    header.append((8 - header.size() % 8) % 8, ' ');
    std::string bytes(8, '\0');
    for (int i = 0; i < 8; ++i) bytes[size_t(i)] = char((header.size() >> (8 * i)) & 0xFF);
    write_all(temp_path(name), bytes + header + std::string(data_bytes, 'x'));
    return temp_path(name);
  };
  CHECK(nn::load_safetensors(write_two("filled.safetensors", "[0,8]", "[8,16]", 16)).size() == 2);
  const std::string gap = write_two("gap.safetensors", "[0,8]", "[12,20]", 20);
  CHECK_THROWS_WITH_AS(nn::load_safetensors(gap),
                       doctest::Contains("tensor 'b' begins at data byte 12 where tensor 'a' ends, at 8"),
                       ssl::Error);
  const std::string late = write_two("late.safetensors", "[4,12]", "[12,20]", 20);
  CHECK_THROWS_WITH_AS(
      nn::load_safetensors(late),
      doctest::Contains("tensor 'a' begins at data byte 4 where the data section begins, at 0"), ssl::Error);
  const std::string overlap = write_two("overlap.safetensors", "[0,8]", "[4,12]", 12);
  CHECK_THROWS_WITH_AS(nn::load_safetensors(overlap), doctest::Contains("without gaps or overlaps"),
                       ssl::Error);
  // The same bytes for both tensors: refused too (two tensors may not share storage in a file).
  const std::string shared = write_two("shared.safetensors", "[0,8]", "[0,8]", 8);
  CHECK_THROWS_WITH_AS(nn::load_safetensors(shared), doctest::Contains("begins at data byte 0"), ssl::Error);
  const std::string trailing = write_two("trailing.safetensors", "[0,8]", "[8,16]", 17);
  CHECK_THROWS_WITH_AS(nn::read_safetensors_metadata(trailing),
                       doctest::Contains("the tensors end at data byte 16 but the data section has 17 bytes"),
                       ssl::Error);
}

TEST_CASE("a file's fingerprint follows its bytes") {
  nn::write_file_atomically(temp_path("f1"), "encoder weights");
  nn::write_file_atomically(temp_path("f2"), "encoder weights");
  const std::string a = nn::file_fingerprint(temp_path("f1"));
  CHECK(a.size() == 16);
  CHECK(nn::file_fingerprint(temp_path("f2")) == a);
  nn::write_file_atomically(temp_path("f2"), "encoder weightz");
  CHECK(nn::file_fingerprint(temp_path("f2")) != a);
  nn::write_file_atomically(temp_path("empty"), "");
  CHECK(nn::file_fingerprint(temp_path("empty")) == "cbf29ce484222325");  // FNV-1a of nothing: its basis
  CHECK_THROWS_WITH_AS(nn::file_fingerprint(temp_path("missing")), doctest::Contains("cannot read"),
                       ssl::Error);
  // A FIFO is refused, not waited on for a writer that never comes.
  REQUIRE(::mkfifo(temp_path("fifo").c_str(), 0600) == 0);
  CHECK_THROWS_WITH_AS(nn::file_fingerprint(temp_path("fifo")), doctest::Contains("not a regular file"),
                       ssl::Error);

  // A directory where the file should go: the rename fails, says so, and leaves no temporary file behind.
  fs::create_directories(temp_path("taken/inside"));
  CHECK_THROWS_WITH_AS(nn::write_file_atomically(temp_path("taken"), "x"),
                       doctest::Contains("renaming its temporary file"), ssl::Error);
  CHECK(fs::is_directory(temp_path("taken/inside")));
  CHECK_FALSE(fs::exists(temp_path("taken") + ".tmp." + std::to_string(::getpid())));
}

TEST_CASE("output directories are made with their parents, or refused naming the path") {
  const std::string nested = temp_path("runs/a/b");
  nn::make_directories(nested);
  CHECK(fs::is_directory(nested));
  nn::make_directories(nested);  // already there: nothing to do
  nn::write_file_atomically(temp_path("a_file"), "x");
  const std::string expected = "cannot create the directory '" + temp_path("a_file/run") + "': ";
  CHECK_THROWS_WITH_AS(nn::make_directories(temp_path("a_file/run")), doctest::Contains(expected.c_str()),
                       ssl::Error);

  nn::make_parent_directories(temp_path("out/c/features.npy"));  // the file's directory, not the file
  CHECK(fs::is_directory(temp_path("out/c")));
  CHECK_FALSE(fs::exists(temp_path("out/c/features.npy")));
  CHECK_NOTHROW(nn::make_parent_directories("features.npy"));  // a bare name: nothing to make
}
