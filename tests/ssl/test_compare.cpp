// ssl compare and its report: the studies run end to end at toy size, and the charts draw what they are
// given.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "core/error.h"
#include "kernels/compute_threads.h"
#include "nn/checkpoint.h"
#include "ssl/compare.h"
#include "ssl/json_file.h"
#include "ssl/pretrain.h"
#include "ssl/report.h"
#include "ssl/seed_summary.h"
#include "support/temp_dir.h"

using namespace ssl;

namespace {

// Damages a file as a bad disk would: one byte of its last few changed.
void flip_a_byte_near_the_end(const std::string& path) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekg(-3, std::ios::end);
  const char byte = char(file.get());
  file.seekp(-3, std::ios::end);
  file.put(char(byte ^ 0x55));
}

size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

CompareOptions tiny(const std::string& study, const std::string& dir) {
  CompareOptions c;
  c.study = study;
  c.data = "synthetic:train:64";
  c.test = "synthetic:test:32";
  c.epochs = 1;
  c.batch_size = 16;
  c.max_steps_per_epoch = 2;
  c.probe_epochs = 2;
  c.labels_per_class = 2;
  c.label_epochs = 2;
  c.out_dir = dir;
  c.show_progress = false;
  return c;
}
}  // namespace

TEST_CASE("report: the grouped bar chart has one bar per value, as tall as the value") {
  const std::string svg =
      svg_grouped_bars("t", {"a", "b"}, {{"m1", {0.5, 1.0}, {}}, {"m<2>", {0.25, std::nan("")}, {}}});
  CHECK(count(svg, "<rect") == 3 + 2);  // three bars (one value missing) and two legend keys
  CHECK(svg.find("height=\"130.0\"") != std::string::npos);  // 0.5 of the 260 px plot
  CHECK(svg.find("m&lt;2&gt;") != std::string::npos);        // labels are escaped
  CHECK(count(svg, "<path") == 0);                           // no errors given, no whiskers
  const std::string lines = svg_line_chart("loss", "loss", {{"x", {1, 2, 3}, {3, 2, 1}}});
  CHECK(count(lines, "<polyline") == 1);
}

TEST_CASE(
    "report: a line chart shows one epoch as a dot, tells a flat curve's ticks apart, and caps its axis") {
  // One point: no line can be drawn through it, so a dot marks it.
  const std::string one = svg_line_chart("loss", "loss", {{"a", {1}, {1.386}}});
  CHECK(count(one, "<circle") == 1);
  // A flat curve at ln 4: every tick label differs (they read "1" six times when the margin was 1e-6).
  const std::string flat = svg_line_chart("loss", "loss", {{"a", {1, 2, 3}, {1.386, 1.386, 1.386}}});
  CHECK(count(flat, "<circle") == 0);
  std::vector<std::string> ticks;
  for (size_t at = flat.find("text-anchor=\"end\">"); at != std::string::npos;
       at = flat.find("text-anchor=\"end\">", at + 1)) {
    const size_t from = at + std::string("text-anchor=\"end\">").size();
    ticks.push_back(flat.substr(from, flat.find('<', from) - from));
  }
  REQUIRE(ticks.size() >= 3);
  for (size_t i = 1; i < ticks.size(); ++i) CHECK(ticks[i] != ticks[i - 1]);
  // Accuracies near 100 % stop at 100, and each curve takes the palette colour it is given.
  const std::string acc = svg_line_chart("acc", "top1 (%)", {{"a", {1, 2}, {60, 99}, 2}}, 100);
  CHECK(acc.find(">100<") != std::string::npos);
  CHECK(acc.find(">120<") == std::string::npos);  // where 8 % of margin would round it up to
  CHECK(acc.find("stroke=\"#009E73\"") != std::string::npos);
}

TEST_CASE("report: a whisker spans the mean plus and minus its error") {
  // One bar of 0.5 +- 0.1 on the 260 px plot that starts 56 px from the top: from y = 212 up to y = 160.
  const std::string svg = svg_grouped_bars("t", {"a", "b"}, {{"m", {0.5, 0.7}, {0.1, std::nan("")}}});
  CHECK(count(svg, "<path") == 1);  // the second bar has no error
  CHECK(svg.find(" 212.0V160.0") != std::string::npos);
}

TEST_CASE("seed summary: each number's mean, sample standard deviation and the seeds' own values") {
  CHECK(mean_std({2, 4, 9}).mean == doctest::Approx(5));
  CHECK(mean_std({2, 4, 9}).std == doctest::Approx(std::sqrt(13.0)));  // (9 + 1 + 16) / 2
  CHECK(mean_std({0.25}).std == 0);
  CHECK_THROWS_AS(mean_std({}), Error);

  const auto run = [](int seed, double top1, const std::string& layer) {
    nlohmann::json split = {{"top1", top1},
                            {"top5", nullptr},
                            {"data", "synthetic:test"},
                            {"images", 1800},
                            {"classes_left_out", {{"split", {"diamond"}}, {"train", {"checker"}}}}};
    return nlohmann::json{
        {"study", "a"},
        {"title", "t"},
        {"config", {{"seed", seed}, {"epochs", 3}}},
        {"methods",
         {{{"name", "simclr"}, {"protocol", "linear"}, {"layer", layer}, {"splits", {{"test", split}}}},
          {{"name", "random"}, {"protocol", "linear"}, {"layer", "pool2"}, {"splits", {{"test", split}}}}}}};
  };
  const nlohmann::json s = summarise_over_seeds(
      {run(3, 0.5, "pool2"), run(4, 0.7, "pool1"), run(5, 0.6, "pool2")}, {"seed_3", "seed_4", "seed_5"});
  const nlohmann::json& test = s["methods"][0]["splits"]["test"];
  CHECK(test["top1"].get<double>() == doctest::Approx(0.6));
  CHECK(test["top1_std"].get<double>() == doctest::Approx(0.1));
  CHECK(test["top1_runs"] == nlohmann::json({0.5, 0.7, 0.6}));
  CHECK(std::isnan(test["top5"].get<double>()));  // not measured in the runs, so not in their mean
  CHECK(test["data"] == "synthetic:test");
  CHECK(test["images"] == 1800);  // what was scored, the same in every run
  CHECK(test["classes_left_out"]["split"] == nlohmann::json{"diamond"});
  CHECK(s["methods"][0]["layer"] == "pool2/pool1");  // the layers the seeds' probes read
  CHECK(s["methods"][1]["layer"] == "pool2");
  CHECK(s["config"]["seeds"] == nlohmann::json({3, 4, 5}));
  CHECK_FALSE(s["config"].contains("seed"));
  CHECK(s["config"]["epochs"] == 3);
  CHECK(s["runs"] == nlohmann::json({"seed_3", "seed_4", "seed_5"}));

  // Study b draws its labelled images with each seed: then each seed's spec is given.
  nlohmann::json drawn = run(4, 0.7, "pool2");
  drawn["methods"][0]["splits"]["test"]["data"] = "synthetic:train@20,seed=4";
  const nlohmann::json per_seed = summarise_over_seeds({run(3, 0.5, "pool2"), drawn}, {"seed_3", "seed_4"});
  CHECK(per_seed["methods"][0]["splits"]["test"]["data"] ==
        nlohmann::json({"synthetic:test", "synthetic:train@20,seed=4"}));
  CHECK(per_seed["methods"][1]["splits"]["test"]["data"] == "synthetic:test");

  nlohmann::json other = run(6, 0.1, "pool2");
  other["methods"][1]["name"] = "rotation";
  CHECK_THROWS_WITH_AS(summarise_over_seeds({run(3, 0.5, "pool2"), other}, {"seed_3", "seed_6"}),
                       doctest::Contains("do not list the same methods"), Error);
}

TEST_CASE("compare --study a at toy size: every method, the random floor, results.json and report.html") {
  const test::TempDir temp("ssl_test_compare_a");
  const std::string& dir = temp.path();
  CompareOptions a = tiny("a", dir);
  a.crop_min_scale = 0.5;
  a.transfer = "synthetic:transfer:30";
  a.patch_probe_data = "synthetic:train:48";
  const nlohmann::json r = compare(a);
  std::vector<std::string> names;
  for (const auto& m : r["methods"]) {
    names.push_back(m["name"]);
    CHECK(m["splits"]["test"]["top1"].get<double>() <= m["splits"]["test"]["top5"].get<double>());
    // The transfer set is scored on the classes both sets have: its diamonds are left out.
    const nlohmann::json& transfer = m["splits"]["transfer"];
    CHECK(transfer["images"] == 27);
    CHECK(transfer["classes_left_out"]["split"] == nlohmann::json{"diamond"});
    CHECK(transfer["classes_left_out"]["train"] == nlohmann::json{"checker"});
    // Every probe read the layer chosen on held-out training images, among convnet2's two.
    CHECK(m["layer_selection"]["top1"].size() == 2);
    CHECK(m["layer_selection"]["top1"].contains(m["layer"].get<std::string>()));
    // The patch encoder's probe is fitted on its own labelled set; the others' on --data.
    CHECK(m["splits"]["train"]["data"] ==
          (m["name"] == "patch" ? "synthetic:train:48" : "synthetic:train:64"));
  }
  CHECK(names.front() == "simclr");
  CHECK(std::find(names.begin(), names.end(), "rotation") != names.end());
  CHECK(names.back() == "random");
  CHECK(r["methods"][0]["metrics"].size() == 1);  // one epoch
  // SimCLR's crop setting reached its run and is recorded with the study's.
  std::ifstream simclr_config(dir + "/simclr/config.json");
  CHECK(nlohmann::json::parse(simclr_config)["crop_min_scale"] == 0.5);
  std::ifstream rotation_config(dir + "/rotation/config.json");  // not the others', which do not read it
  CHECK(nlohmann::json::parse(rotation_config)["crop_min_scale"] == PretrainOptions().simclr.crop_min_scale);
  // A run of another method that recorded the study's crops (as compare gave them to every run before) is
  // the same run: kept, not refused.
  PretrainOptions earlier =
      pretrain_options_from_json(nlohmann::json::parse(std::ifstream(dir + "/rotation/config.json")));
  PretrainOptions asked = earlier;
  earlier.simclr.crop_min_scale = 0.5;
  check_resume_options(earlier, asked, "saved");
  earlier.method = asked.method = "simclr";
  CHECK_THROWS_AS(check_resume_options(earlier, asked, "saved"), Error);
  CHECK(r["config"]["crop_min_scale"] == 0.5);
  std::ifstream html(dir + "/report.html");
  std::stringstream page;
  page << html.rdbuf();
  CHECK(page.str().find("<svg") != std::string::npos);
  CHECK(page.str().find("simclr") != std::string::npos);
  CHECK(page.str().find("linear @ pool") != std::string::npos);  // the layer beside the protocol
  CHECK(page.str().find("among the probe's: [diamond];") !=
        std::string::npos);  // the transfer's left-out class
  // Rotation's training accuracy is over its 4 rotations, which the page says beside the chart.
  CHECK(page.str().find("rotation predicts one of 4 rotations") != std::string::npos);
  // The settings the results depend on, the thread count among them, and not study B's.
  CHECK(r["config"]["threads"] == kernels::ComputeThreads(0).count());
  CHECK(r["config"]["probe_data"] == r["config"]["data"]);
  CHECK(r["config"]["patch_probe_data"] == "synthetic:train:48");
  CHECK(!r["config"].contains("label_epochs"));
  CHECK(std::filesystem::exists(dir + "/results.json"));
  // A second run finds every run finished and only evaluates again: the records, each epoch's seconds
  // included, are the first run's, which an epoch trained again would not repeat.
  const nlohmann::json again = compare(a);
  CHECK(again["methods"][0]["metrics"] == r["methods"][0]["metrics"]);
  // ... but not one whose encoder is not the one it saved: copied from another run, or damaged.
  const std::string rotation_encoder = dir + "/rotation/encoder.safetensors";
  std::filesystem::copy_file(rotation_encoder, dir + "/rotation.safetensors");
  std::filesystem::copy_file(dir + "/simclr/encoder.safetensors", rotation_encoder,
                             std::filesystem::copy_options::overwrite_existing);
  CHECK_THROWS_WITH_AS(
      compare(a),
      doctest::Contains("rotation/encoder.safetensors holds the encoder of simclr after epoch 1, "
                        "not the one this rotation run saved after epoch 1"),
      Error);
  std::filesystem::copy_file(dir + "/rotation.safetensors", rotation_encoder,
                             std::filesystem::copy_options::overwrite_existing);
  flip_a_byte_near_the_end(rotation_encoder);
  CHECK_THROWS_WITH_AS(compare(a), doctest::Contains("rotation/encoder.safetensors"), Error);
  std::filesystem::copy_file(dir + "/rotation.safetensors", rotation_encoder,
                             std::filesystem::copy_options::overwrite_existing);
  // ... nor one made with other settings.
  a.crop_min_scale = 0.08;
  CHECK_THROWS_WITH_AS(compare(a), doctest::Contains("crop_min_scale: saved 0.5, requested 0.08"), Error);
}

TEST_CASE("compare: the study's scale of synthetic data, and study A's transfer set on it, unless given") {
  CompareOptions a;
  a.study = "a";
  apply_defaults(a, false, false);
  CHECK(a.data == "synthetic:train:2000");
  CHECK(a.transfer == "synthetic:transfer");
  CompareOptions b;
  b.study = "b";
  apply_defaults(b, false, false);
  CHECK(b.data == "synthetic:train:2200");
  CHECK(b.transfer.empty());
  CompareOptions none = a;
  none.transfer = "none";
  apply_defaults(none, true, true);
  CHECK(none.transfer.empty());
  CompareOptions cifar;
  cifar.study = "a";
  cifar.data = "cifar10:data:train";
  apply_defaults(cifar, true, false);
  CHECK(cifar.data == "cifar10:data:train");
  CHECK(cifar.transfer.empty());
}

TEST_CASE("compare --repeats 2 at toy size: a run per seed, and their mean and spread in results.json") {
  const test::TempDir temp("ssl_test_compare_repeats");
  CompareOptions a = tiny("a", temp.path());
  a.seed = 7;
  a.repeats = 2;
  const nlohmann::json summary = compare(a);
  std::vector<nlohmann::json> runs;
  for (const char* dir : {"seed_7", "seed_8"}) {
    std::ifstream in(temp.path() + "/" + dir + "/results.json");
    REQUIRE(in);
    runs.push_back(nlohmann::json::parse(in));
  }
  CHECK(runs[0]["config"]["seed"] == 7);
  CHECK(runs[1]["config"]["seed"] == 8);
  CHECK(summary["config"]["repeats"] == 2);
  REQUIRE(summary["methods"].size() == runs[0]["methods"].size());
  for (size_t i = 0; i < summary["methods"].size(); ++i) {
    const nlohmann::json& test = summary["methods"][i]["splits"]["test"];
    const double a0 = runs[0]["methods"][i]["splits"]["test"]["top1"],
                 a1 = runs[1]["methods"][i]["splits"]["test"]["top1"];
    CHECK(test["top1"].get<double>() == doctest::Approx((a0 + a1) / 2));
    CHECK(test["top1_std"].get<double>() == doctest::Approx(std::abs(a0 - a1) / std::sqrt(2.0)));
  }
  std::ifstream html(temp.path() + "/report.html");
  std::stringstream page;
  page << html.rdbuf();
  CHECK(page.str().find("href=\"seed_8/report.html\"") != std::string::npos);
  CHECK(page.str().find(" ± ") != std::string::npos);
  std::ifstream saved(temp.path() + "/results.json");
  CHECK(nlohmann::json::parse(saved) == summary);
  a.repeats = 0;
  CHECK_THROWS_WITH_AS(compare(a), doctest::Contains("repeats must be at least 1, got 0"), Error);
}

TEST_CASE(
    "compare: a study that cannot start (a dataset that cannot be opened, an unknown model) writes nothing") {
  const test::TempDir temp("ssl_test_compare_bad");
  CompareOptions c = tiny("a", temp.path() + "/run");
  c.transfer = "folder:" + temp.path() + "/no_such_folder";
  CHECK_THROWS_WITH_AS(compare(c), doctest::Contains("no_such_folder"), ssl::Error);
  CHECK_FALSE(std::filesystem::exists(c.out_dir));
  // A first run that cannot start (a model the project does not have) leaves no directory either.
  CompareOptions model = tiny("a", temp.path() + "/run_model");
  model.model = "convnet3";
  CHECK_THROWS_WITH_AS(compare(model), doctest::Contains("unknown model 'convnet3'"), ssl::Error);
  CHECK_FALSE(std::filesystem::exists(model.out_dir));
  // The probes read --layer after each pre-training: a layer the model lacks is refused before the first.
  CompareOptions layer = tiny("a", temp.path() + "/run_layer");
  layer.layer = "conv9";
  CHECK_THROWS_WITH_AS(compare(layer), doctest::Contains("no layer 'conv9'"), ssl::Error);
  CHECK_FALSE(std::filesystem::exists(layer.out_dir));
}

TEST_CASE("compare --study b at toy size: supervised, simclr with its joint probe, finetune on the labels") {
  const test::TempDir temp("ssl_test_compare_b");
  const std::string& dir = temp.path();
  CompareOptions b = tiny("b", dir);
  b.image_size = 16;  // the SGAN's generator is most of the study's time; a quarter of the pixels
  const nlohmann::json r = compare(b);
  std::vector<std::string> names;
  for (const auto& m : r["methods"]) names.push_back(m["name"]);
  CHECK(names[0] == "supervised");
  CHECK(names[1] == "simclr");
  CHECK(names[2] == "simclr+linear");
  CHECK(names[3] == "finetune");
  CHECK(names[4] == "sgan supervised");
  CHECK(names[5] == "sgan");
  CHECK(names[6] == "sgan pretrained");
  CHECK(names[7] == "random");
  CHECK(r["methods"][5]["samples"].size() >= 1);  // the generator's sample grid, shown by the report
  CHECK(r["methods"][0]["protocol"] == "classifier");
  CHECK(r["methods"][1]["protocol"] == "joint probe");
  CHECK(r["methods"][1]["metrics"][0].contains("train_top1"));  // the joint probe's accuracy per epoch
  CHECK(r["methods"][0]["splits"]["train"]["data"] == "synthetic:train:64@2,seed=0");
  CHECK(r["config"]["label_epochs"] == 2);   // the epochs of the runs on the labels alone, in the report too
  CHECK(!r["config"].contains("transfer"));  // study A's settings are not study B's
  // Each SGAN's train split scores its final discriminator on the labelled images, as its test split does.
  for (size_t k = 4; k <= 6; ++k) {
    const nlohmann::json& train = r["methods"][k]["splits"]["train"];
    CAPTURE(names[k]);
    CHECK(train["images"] == 20);
    CHECK(train["top5"].is_number());
    CHECK(train["top5"].get<double>() >= train["top1"].get<double>());
  }
  // The report's training-accuracy chart has the SGANs' curves (logged as train_accuracy) beside the others.
  const std::string html = report_html(r);
  const size_t chart = html.find("accuracy on the training batches");
  REQUIRE(chart != std::string::npos);
  const std::string train_chart = html.substr(chart, html.find("</svg>", chart) - chart);
  CHECK(train_chart.find(">sgan pretrained</text>") != std::string::npos);
  CHECK(train_chart.find(">supervised</text>") != std::string::npos);

  // A finished SGAN run made with another test set is refused, not passed off as scored on this one.
  CompareOptions other_test = b;
  other_test.test = "synthetic:test:48";
  CHECK_THROWS_WITH_AS(compare(other_test), doctest::Contains("test: saved \"synthetic:test:32\""),
                       ssl::Error);
  // A run stopped after its last checkpoint, before its results.json, is scored when the study runs again,
  // without another epoch: the same numbers as the first time.
  std::filesystem::remove(dir + "/sgan/results.json");
  const nlohmann::json again = compare(b);
  CHECK(again["methods"][5]["splits"] == r["methods"][5]["splits"]);
  CHECK(again["methods"][5]["metrics"] == r["methods"][5]["metrics"]);
  // A kept run's scores and records that are not what a run writes are refused, naming the file and field.
  const std::string results_path = dir + "/sgan/results.json";
  const nlohmann::json good = read_json_object(results_path);
  const auto keep_with = [&](const std::function<void(nlohmann::json&)>& change) {
    nlohmann::json bad = good;
    change(bad);
    nn::write_file_atomically(results_path, bad.dump());
  };
  keep_with([](nlohmann::json& j) { j["splits"]["test"]["top1"] = 7.5; });
  CHECK_THROWS_WITH_AS(
      compare(b),
      doctest::Contains("sgan/results.json: splits.test.top1 is 7.5; expected a fraction in [0, 1]"),
      ssl::Error);
  keep_with([](nlohmann::json& j) { j["splits"]["train"]["top5"] = "abc"; });
  CHECK_THROWS_WITH_AS(compare(b), doctest::Contains("splits.train.top5 is \"abc\"; expected a fraction"),
                       ssl::Error);
  keep_with([](nlohmann::json& j) { j["splits"].erase("test"); });
  CHECK_THROWS_WITH_AS(compare(b), doctest::Contains("sgan/results.json has no 'test' scores"), ssl::Error);
  nn::write_file_atomically(results_path, good.dump());
  // A kept SGAN's scores are read, not measured again: its encoder must be the one it saved, undamaged.
  const std::string sgan_encoder = dir + "/sgan/encoder.safetensors";
  std::filesystem::copy_file(sgan_encoder, dir + "/sgan.safetensors");
  flip_a_byte_near_the_end(sgan_encoder);
  CHECK_THROWS_WITH_AS(compare(b), doctest::Contains("sgan/encoder.safetensors"), ssl::Error);
  std::filesystem::copy_file(dir + "/sgan.safetensors", sgan_encoder,
                             std::filesystem::copy_options::overwrite_existing);
  const size_t records = r["methods"][5]["metrics"].size();
  std::ofstream(dir + "/sgan/metrics.jsonl", std::ios::app) << "{\"epoch\": 9, \"loss\": \"abc\"}\n";
  const std::string expected =
      str_cat("sgan/metrics.jsonl record ", records + 1, ": 'loss' is \"abc\"; expected a number");
  CHECK_THROWS_WITH_AS(compare(b), doctest::Contains(expected.c_str()), ssl::Error);
}
