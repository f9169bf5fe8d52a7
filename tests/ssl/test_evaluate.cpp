// The evaluation runner's data handling: transfer to a dataset with other class names, label budgets, and
// images of another size than the encoder's; the finetune protocol.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data/image_grid.h"
#include "data/registry.h"
#include "data/synthetic.h"
#include "nn/checkpoint.h"
#include "nn/train_state.h"
#include "ssl/evaluate.h"
#include "ssl/features.h"
#include "ssl/pretrain.h"
#include "ssl/supervised.h"

using namespace ssl;

namespace {

// A folder dataset in `dir`: `per_class` synthetic test images of class `disc` and of `ring`, and as many
// of a class the synthetic set does not have ("unicorn", drawn as squares).
void write_transfer_folder(const std::string& dir, int64_t per_class) {
  const data::SyntheticDataset source(data::Split::test, 200);
  std::map<int64_t, std::string> folder_of = {{0, "disc"}, {1, "Ring"}, {2, "unicorn"}};
  std::map<int64_t, int64_t> written;
  for (int64_t i = 0; i < source.size(); ++i) {
    const int64_t y = source.label(i);
    if (!folder_of.count(y) || written[y] == per_class) continue;
    const std::string folder = dir + "/" + folder_of[y];
    std::filesystem::create_directories(folder);
    data::write_png(folder + "/" + std::to_string(i) + ".png", source.image(i));
    ++written[y];
  }
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("eval: a transfer set is matched by class name and scored over the shared classes") {
  const std::string dir = (std::filesystem::temp_directory_path() / "ssl_test_transfer").string();
  std::filesystem::remove_all(dir);
  write_transfer_folder(dir + "/images", 6);

  EvalOptions e;
  e.encoder = "random:convnet2";
  e.train = "synthetic:train:200";
  e.test = "synthetic:test:50";
  e.transfer = "folder:" + dir + "/images";
  e.probe.epochs = 3;
  e.show_progress = false;
  const nlohmann::json r = evaluate(e);
  const nlohmann::json& t = r["splits"]["transfer"];
  CHECK(t["images"] == 12);  // the unicorns are left out
  CHECK(t["classes_matched"] == 2);
  CHECK(t["classes_left_out"]["split"] == nlohmann::json::array({"unicorn"}));
  CHECK(t["classes_left_out"]["train"].size() == 8);
  // Only two training classes can be predicted, so every image is within the top five.
  CHECK(t["top5"] == 1.0);
  CHECK(t["top1"].get<double>() >= 0);
  CHECK_FALSE(r["splits"]["test"].contains("classes_left_out"));  // same classes: no mapping
  std::filesystem::remove_all(dir);
}

TEST_CASE("eval: --labels-per-class fits the probe on a label budget") {
  EvalOptions e;
  e.encoder = "random:convnet2";
  e.train = "synthetic:train:300";
  e.test = "synthetic:test:20";
  e.labels_per_class = 3;
  e.probe.epochs = 1;
  e.show_progress = false;
  const nlohmann::json r = evaluate(e);
  CHECK(r["splits"]["train"]["images"] == 30);
  e.train = "synthetic:train:300@3";
  CHECK_THROWS_WITH_AS(evaluate(e), doctest::Contains("--labels-per-class"), ssl::Error);
}

TEST_CASE("eval: an unlabelled split is refused by name") {
  const std::string dir = (std::filesystem::temp_directory_path() / "ssl_test_unlabelled").string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const data::SyntheticDataset source(data::Split::test, 2);
  data::write_png(dir + "/a.png", source.image(0));
  EvalOptions e;
  e.encoder = "random:convnet2";
  e.train = "synthetic:train:20";
  e.test = "folder:" + dir;
  e.probe.epochs = 1;
  e.show_progress = false;
  CHECK_THROWS_WITH_AS(evaluate(e), doctest::Contains("unlabelled"), ssl::Error);
  std::filesystem::remove_all(dir);
}

TEST_CASE("features: images of another size are resized to the encoder's input") {
  nn::EncoderPtr encoder = nn::make_encoder("convnet2", 16);
  const data::SyntheticDataset images(data::Split::test, 5);  // 32 x 32
  const Features f = compute_features(*encoder, images, 4, 1, false);
  CHECK(f.x.shape() == Shape{5, 64 * 4 * 4});
  CHECK(f.labels.shape() == Shape{5});
}

TEST_CASE("eval --protocol finetune: encoder and head trained on --train, every split scored by them") {
  const std::string dir = (std::filesystem::temp_directory_path() / "ssl_test_eval_finetune").string();
  std::filesystem::remove_all(dir);
  write_transfer_folder(dir + "/images", 4);
  PretrainOptions p;  // the encoder to start from: a tiny rotation run
  p.method = "rotation";
  p.data = "synthetic:train:64";
  p.out_dir = dir + "/rotation";
  p.epochs = 1;
  p.batch_size = 16;
  p.show_progress = false;
  pretrain(p);

  EvalOptions e;
  e.protocol = "finetune";
  e.encoder = dir + "/rotation";
  e.train = "synthetic:train:400";
  e.labels_per_class = 20;
  e.test = "synthetic:test:100";
  e.transfer = "folder:" + dir + "/images";
  e.out_dir = dir + "/eval";
  e.finetune.epochs = 6;
  e.finetune.batch_size = 32;
  e.finetune.lr = 3e-3;
  e.show_progress = false;
  const nlohmann::json r = evaluate(e);
  CHECK(r["protocol"] == "finetune");
  CHECK(r["finetune"]["method"] == "finetune");
  CHECK(r["finetune"]["epochs"] == 6);
  CHECK(r["splits"]["train"]["images"] == 200);
  for (const char* split : {"train", "test", "transfer"}) {
    CAPTURE(split);
    const double top1 = r["splits"][split]["top1"], top5 = r["splits"][split]["top5"];
    CHECK(top1 >= 0);
    CHECK(top5 >= top1);
    CHECK(top5 <= 1);
  }
  CHECK(r["splits"]["transfer"]["classes_matched"] == 2);
  CHECK(nlohmann::json::parse(read_text(e.out_dir + "/results.json")) == r);

  // The run is the finetune method's, every encoder weight trained from the start it was given.
  const std::string run = e.out_dir + "/finetune";
  CHECK(nn::read_train_state(run + "/checkpoint.safetensors").epoch == 6);
  const auto before = nn::load_safetensors(dir + "/rotation/encoder.safetensors");
  const auto after = nn::load_safetensors(run + "/encoder.safetensors");
  REQUIRE(before.size() == after.size());
  for (const auto& [name, t] : before) {
    CAPTURE(name);
    CHECK(after.at(name).to_vector<float>() != t.to_vector<float>());
  }
  // The reported scores are those of the saved classifier, which learned its training classes (chance is
  // 10%; 200 labels generalise poorly to the test split in 6 epochs).
  data::OpenOptions open;
  open.image_size = 32;
  const TopK t = classifier_accuracy(run, *data::open_dataset(e.test, open));
  CHECK(r["splits"]["test"]["top1"].get<double>() == t.top1);
  CHECK(r["splits"]["test"]["top5"].get<double>() == t.top5);
  CHECK(r["splits"]["train"]["top1"].get<double>() > 0.25);

  // A rerun keeps the finished run; asking for fewer epochs than it holds is refused.
  CHECK(evaluate(e)["splits"] == r["splits"]);
  e.finetune.epochs = 5;
  CHECK_THROWS_WITH_AS(evaluate(e), doctest::Contains("holds a fine-tuning run of 6 epochs"), ssl::Error);
  e.finetune.epochs = 6;  // a finished run trained with other options is not taken for the one asked for
  e.finetune.lr = 1e-3;
  CHECK_THROWS_WITH_AS(evaluate(e), doctest::Contains("lr: saved 0.003, requested 0.001"), ssl::Error);

  // From random:MODEL it is the supervised baseline; without --out it trains in a directory removed after.
  e.encoder = "random:convnet2";
  e.out_dir.clear();
  e.transfer.clear();
  e.finetune.epochs = 1;
  const nlohmann::json s = evaluate(e);
  CHECK(s["finetune"]["method"] == "supervised");
  CHECK_FALSE(std::filesystem::exists(s["finetune"]["run"].get<std::string>()));
  e.input_size = 16;
  CHECK_THROWS_WITH_AS(evaluate(e), doctest::Contains("--input-size"), ssl::Error);
  std::filesystem::remove_all(dir);
}
