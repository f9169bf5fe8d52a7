// safetensors checkpoints: round trip, atomic writes, and a clear error for every kind of damage.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "nn/checkpoint.h"
#include "nn/models.h"

using namespace ssl;
namespace fs = std::filesystem;

namespace {
std::string temp_path(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("ssl_ckpt_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return (dir / name).string();
}
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

  nn::Linear linear(3, 4);
  CHECK_THROWS_WITH_AS(nn::load_module(path, linear), doctest::Contains("'weight'"), ssl::Error);

  nn::save_safetensors(temp_path("wrong_shape.safetensors"), {{"0.weight", Tensor::zeros({1, 2})}});
  CHECK_THROWS_WITH_AS(nn::load_module(temp_path("wrong_shape.safetensors"), *model),
                       doctest::Contains("tensor '0.weight' is float32 [1, 2] in the file"), ssl::Error);
  CHECK_THROWS_WITH_AS(nn::load_module(temp_path("missing.safetensors"), *model),
                       doctest::Contains("cannot open"), ssl::Error);
}
