// The evaluation runner's data handling: transfer to a dataset with other class names, label budgets, and
// images of another size than the encoder's; the finetune protocol.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
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
#include "support/temp_dir.h"

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
  const test::TempDir temp("ssl_test_transfer");
  const std::string& dir = temp.path();
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
  // Top-1 is a count of the 12 scored images (over 18, the unicorns included, it would be a count of 18ths).
  const double correct = t["top1"].get<double>() * 12;
  CHECK(correct == doctest::Approx(std::round(correct)).epsilon(1e-9));
  CHECK((correct >= 0 && correct <= 12));
  CHECK_FALSE(r["splits"]["test"].contains("classes_left_out"));  // same classes: no mapping
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
  CHECK(r["splits"]["train"]["data"] ==
        "synthetic:train:300@3,seed=0");  // the images the probe was fitted on
  e.train = "synthetic:train:300@3";
  CHECK_THROWS_WITH_AS(evaluate(e), doctest::Contains("--labels-per-class"), ssl::Error);
}

TEST_CASE("load_encoder: another input size is refused where the model is built differently there") {
  const test::TempDir temp("ssl_test_input_size");
  const auto save = [&](const std::string& model, int64_t size) {
    const std::string dir = temp.path() + "/" + model + "_" + std::to_string(size);
    std::filesystem::create_directories(dir);
    nn::save_module(dir + "/encoder.safetensors", *nn::make_encoder(model, size),
                    {{"model", model}, {"image_size", std::to_string(size)}});
    return dir;
  };
  // MobileNet's stem has stride 1 below 64 px and 2 from 64: the same weight shapes, another network.
  const std::string mobilenet = save("mobilenet_v1:0.25", 32);
  CHECK(load_encoder(mobilenet, 0, 32, 48)->image_size == 48);  // stride 1 at both sizes
  CHECK_THROWS_WITH_AS(
      load_encoder(mobilenet, 0, 32, 96),
      doctest::Contains("mobilenet_v1:0.25 trained at 32 px: stem stride 1; at 96 px: stem stride 2, "
                        "another network for the same weights"),
      ssl::Error);
  // ConvNet2 is the same network at every size.
  CHECK(load_encoder(save("convnet2", 32), 0, 32, 96)->image_size == 96);
  // Metadata naming a network that cannot be built: the error names the file, not only the model.
  const std::string odd = temp.path() + "/odd";
  std::filesystem::create_directories(odd);
  nn::save_module(odd + "/encoder.safetensors", *nn::make_encoder("convnet2", 32),
                  {{"model", "convnet2"}, {"image_size", "99"}});
  CHECK_THROWS_WITH_AS(
      load_encoder(odd),
      doctest::Contains("odd/encoder.safetensors: cannot build the encoder it holds (convnet2 at "
                        "99 px): convnet2: image size must be a multiple of 4"),
      ssl::Error);
}

TEST_CASE("eval: an unlabelled split is refused by name") {
  const test::TempDir temp("ssl_test_unlabelled");
  const std::string& dir = temp.path();
  const data::SyntheticDataset source(data::Split::test, 2);
  data::write_png(dir + "/a.png", source.image(0));
  EvalOptions e;
  e.encoder = "random:convnet2";
  e.train = "synthetic:train:20";
  e.test = "folder:" + dir;
  e.probe.epochs = 1;
  e.show_progress = false;
  CHECK_THROWS_WITH_AS(evaluate(e), doctest::Contains("unlabelled"), ssl::Error);

  // The unlabelled part of a label budget, as the training split (with --layer best, whose per-class split
  // once indexed class -1) or as the test split: refused before any feature pass, naming the flag.
  e.test = "synthetic:test:20";
  e.train = "synthetic:train:40@2,rest";
  e.layer = "best";
  CHECK_THROWS_WITH_AS(evaluate(e), doctest::Contains("of the training split"), ssl::Error);
  e.train = "synthetic:train:40";
  e.test = "synthetic:test:40@2,rest";
  CHECK_THROWS_WITH_AS(evaluate(e), doctest::Contains("of --test"), ssl::Error);
  // A transfer set without a class in common is refused up front too.
  std::filesystem::create_directories(dir + "/zoo/zebra");
  data::write_png(dir + "/zoo/zebra/a.png", source.image(1));
  e.test = "synthetic:test:20";
  e.transfer = "folder:" + dir + "/zoo";
  CHECK_THROWS_WITH_AS(evaluate(e), doctest::Contains("no class of --transfer"), ssl::Error);
}

TEST_CASE("eval --out: a file, or a directory whose results.json is not an evaluation's, is refused first") {
  const test::TempDir temp("ssl_test_eval_out");
  const std::string& dir = temp.path();
  EvalOptions e;
  e.encoder = "random:convnet2";
  e.train = "synthetic:train:20";
  e.test = "synthetic:test:20";
  e.probe.epochs = 1;
  e.show_progress = false;
  // An SGAN run's results.json, which ssl compare reads back: left as it was.
  const std::string sgan_results = "{\"variant\": \"semi-supervised\", \"splits\": {}}\n";
  std::ofstream(dir + "/results.json") << sgan_results;
  e.out_dir = dir;
  CHECK_THROWS_WITH_AS(evaluate(e), doctest::Contains("is not an evaluation's results"), ssl::Error);
  CHECK(read_text(dir + "/results.json") == sgan_results);
  std::ofstream(dir + "/a_file") << "x";
  e.out_dir = dir + "/a_file";
  CHECK_THROWS_WITH_AS(evaluate(e), doctest::Contains("expected a directory, found a file"), ssl::Error);
  // An evaluation's own directory is written again.
  e.out_dir = dir + "/eval";
  evaluate(e);
  CHECK(evaluate(e)["protocol"] == "linear");
}

TEST_CASE("features: images of another size are resized to the encoder's input") {
  nn::EncoderPtr encoder = nn::make_encoder("convnet2", 16);
  const data::SyntheticDataset images(data::Split::test, 5);  // 32 x 32
  const Features f = compute_features(*encoder, images, 4, 1, false);
  CHECK(f.x.shape() == Shape{5, 64 * 4 * 4});
  CHECK(f.labels.shape() == Shape{5});
}

TEST_CASE("features: an encoder whose activations overflow is refused, naming the image and the layer") {
  nn::EncoderPtr encoder = nn::make_encoder("convnet2", 32);
  {
    NoGradGuard no_grad;
    for (Tensor& p : encoder->parameters()) p.copy_(mul(p, 1e20));
  }
  const data::SyntheticDataset images(data::Split::test, 5);
  CHECK_THROWS_WITH_AS(
      compute_features(*encoder, images, 4, 1, false),
      doctest::Contains(
          "features of image 0 of synthetic:test (5 images, seed 0) at layer pool2 are not finite"),
      ssl::Error);
}

TEST_CASE("features at an intermediate layer: whole when they fit, else average-pooled to the bound") {
  NoGradGuard no_grad;
  const Tensor x = Tensor::normal({2, 3, 32, 32}, 0, 1);
  nn::EncoderPtr convnet = nn::make_encoder("convnet2", 32);
  // pool1 is 32 x 16 x 16 = 8,192 values: kept whole.
  CHECK(layer_features(*convnet, x, 0).to_vector<float>() ==
        convnet->forward_to(x, 0).flatten(1).to_vector<float>());
  nn::EncoderPtr resnet = nn::make_encoder("resnet18", 32);
  // layer1 is 64 x 32 x 32: pooled to 12 x 12 (64 · 12² = 9,216); layer2, 128 x 16 x 16: to 8 x 8.
  CHECK(layer_features(*resnet, x, 0).shape() == Shape{2, 64 * 12 * 12});
  CHECK(layer_features(*resnet, x, 1).shape() == Shape{2, 128 * 8 * 8});
  CHECK(layer_features(*resnet, x, 3).shape() == Shape{2, 512});
  const data::SyntheticDataset images(data::Split::test, 5);
  CHECK(compute_features(*convnet, images, 4, 1, false, nullptr, 0).x.shape() == Shape{5, 8192});
}

TEST_CASE("eval --layer: a named layer, or the best on a held-out fifth of the training split") {
  EvalOptions e;
  e.encoder = "random:convnet2";
  e.train = "synthetic:train:150";
  e.test = "synthetic:test:60";
  e.probe.epochs = 5;
  e.show_progress = false;

  const nlohmann::json output = evaluate(e);
  CHECK(output["layer"] == "pool2");
  CHECK(output["feature_dim"] == 4096);
  CHECK_FALSE(output.contains("layer_selection"));

  e.layer = "best";
  const nlohmann::json best = evaluate(e);
  const nlohmann::json& selection = best["layer_selection"];
  REQUIRE(selection["top1"].size() == 2);
  const int64_t held_out = selection["held_out"];
  CHECK(held_out == 30);  // a fifth of each class's 15 images
  const std::string chosen = best["layer"];
  const std::string other = chosen == "pool1" ? "pool2" : "pool1";
  CHECK(selection["top1"][chosen].get<double>() >= selection["top1"][other].get<double>());

  // The chosen layer's probe is then fitted on the whole training split: the same as naming the layer.
  e.layer = chosen;
  const nlohmann::json named = evaluate(e);
  CHECK(named["feature_dim"] == (chosen == "pool1" ? 8192 : 4096));
  CHECK(named["splits"]["test"]["top1"] == best["splits"]["test"]["top1"]);
  CHECK(named["splits"]["train"]["top1"] == best["splits"]["train"]["top1"]);

  // kNN chooses its layer the same way.
  e.protocol = "knn";
  e.knn.k = 10;
  e.layer = "best";
  const nlohmann::json knn = evaluate(e);
  CHECK(knn["layer_selection"]["top1"].size() == 2);
  CHECK(knn["layer_selection"]["held_out"] == held_out);
  CHECK(knn["knn"]["k"] == 10);
  CHECK_FALSE(knn["knn"].contains("k_requested"));
  // More neighbours than training images: results.json says how many voted, and what was asked.
  e.knn.k = 500;
  const nlohmann::json capped = evaluate(e);
  CHECK(capped["knn"]["k"] == 150);
  CHECK(capped["knn"]["k_requested"] == 500);
  e.protocol = "linear";

  // With two labels per class, one of each class is held out and one fitted (a fifth of the whole split,
  // drawn regardless of class, would leave some classes out of one part or the other).
  e.labels_per_class = 2;
  CHECK(evaluate(e)["layer_selection"]["held_out"] == 10);
  e.labels_per_class = 1;
  CHECK_THROWS_WITH_AS(evaluate(e), doctest::Contains("no class with two to hold one out"), ssl::Error);
  e.labels_per_class = 0;

  e.layer = "conv9";
  CHECK_THROWS_WITH_AS(evaluate(e), doctest::Contains("its layers, shallowest first: pool1, pool2"),
                       ssl::Error);
  e.layer = "pool1";
  e.protocol = "finetune";
  CHECK_THROWS_WITH_AS(evaluate(e), doctest::Contains("--layer applies to a frozen encoder"), ssl::Error);
}

TEST_CASE("eval --protocol finetune: encoder and head trained on --train, every split scored by them") {
  const test::TempDir temp("ssl_test_eval_finetune");
  const std::string& dir = temp.path();
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

  // A rerun keeps the finished run; asking for another number of epochs than it was planned for is refused.
  CHECK(evaluate(e)["splits"] == r["splits"]);
  e.finetune.epochs = 5;
  CHECK_THROWS_WITH_AS(evaluate(e),
                       doctest::Contains("planned for epochs = 6 (6 done) but this one asks for epochs = 5"),
                       ssl::Error);
  e.finetune.epochs = 6;  // a finished run trained with other options is not taken for the one asked for
  e.finetune.lr = 1e-3;
  CHECK_THROWS_WITH_AS(evaluate(e), doctest::Contains("lr: saved 0.003, requested 0.001"), ssl::Error);
  // The runner's refusal says which command's training it was.
  CHECK_THROWS_WITH_AS(evaluate(e),
                       doctest::Contains(("eval --protocol finetune, training in " + run + ": ").c_str()),
                       ssl::Error);

  // From random:MODEL it is the supervised baseline; without --out it trains in a directory removed after.
  e.encoder = "random:convnet2";
  e.out_dir.clear();
  e.transfer.clear();
  e.finetune.epochs = 1;
  // A scratch directory that a killed evaluation left is removed by the next; a live process's is not.
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  const auto tmp = std::filesystem::temp_directory_path();
  const auto left = tmp / str_cat("ssl_eval_finetune_", child, "_0"),
             live = tmp / str_cat("ssl_eval_finetune_", ::getppid(), "_7");
  std::filesystem::create_directories(left / "inner");
  std::filesystem::create_directories(live);
  const nlohmann::json s = evaluate(e);
  CHECK_FALSE(std::filesystem::exists(left));
  CHECK(std::filesystem::exists(live));
  std::filesystem::remove_all(live);
  CHECK(s["finetune"]["method"] == "supervised");
  CHECK_FALSE(std::filesystem::exists(s["finetune"]["run"].get<std::string>()));
  // Its training's refusal says the directory is gone rather than naming it.
  e.finetune.lr = 1e30;
  CHECK_THROWS_WITH_AS(
      evaluate(e), doctest::Contains("training in a temporary directory (removed): pretrain: "), ssl::Error);
  e.finetune.lr = 3e-3;
  e.input_size = 16;
  CHECK_THROWS_WITH_AS(evaluate(e), doctest::Contains("--input-size"), ssl::Error);
}

TEST_CASE("eval --input-size: refused for a random encoder, which --image-size sizes") {
  EvalOptions e;
  e.encoder = "random:convnet2";
  e.protocol = "knn";
  e.train = "synthetic:train:20";
  e.test = "synthetic:test:10";
  e.show_progress = false;
  e.input_size = 64;
  CHECK_THROWS_WITH_AS(evaluate(e),
                       doctest::Contains("is built at --image-size (32 px), and got --input-size 64"),
                       ssl::Error);
  e.input_size = 0;
  e.image_size = 64;
  CHECK(evaluate(e)["feature_dim"] == 16384);
}
