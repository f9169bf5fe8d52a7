// The evaluation runner's data handling: transfer to a dataset with other class names, label budgets, and
// images of another size than the encoder's.
#include <doctest/doctest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "data/image_grid.h"
#include "data/synthetic.h"
#include "ssl/evaluate.h"
#include "ssl/features.h"

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
