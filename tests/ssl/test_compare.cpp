// ssl compare and its report: the studies run end to end at toy size, and the charts draw what they are
// given.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "ssl/compare.h"
#include "ssl/report.h"
#include "support/temp_dir.h"

using namespace ssl;

namespace {
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
      svg_grouped_bars("t", {"a", "b"}, {{"m1", {0.5, 1.0}}, {"m<2>", {0.25, std::nan("")}}});
  CHECK(count(svg, "<rect") == 3 + 2);  // three bars (one value missing) and two legend keys
  CHECK(svg.find("height=\"130.0\"") != std::string::npos);  // 0.5 of the 260 px plot
  CHECK(svg.find("m&lt;2&gt;") != std::string::npos);        // labels are escaped
  const std::string lines = svg_line_chart("loss", "loss", {{"x", {1, 2, 3}, {3, 2, 1}}});
  CHECK(count(lines, "<polyline") == 1);
}

TEST_CASE("compare --study a at toy size: every method, the random floor, results.json and report.html") {
  const test::TempDir temp("ssl_test_compare_a");
  const std::string& dir = temp.path();
  CompareOptions a = tiny("a", dir);
  a.crop_min_scale = 0.5;
  const nlohmann::json r = compare(a);
  std::vector<std::string> names;
  for (const auto& m : r["methods"]) {
    names.push_back(m["name"]);
    CHECK(m["splits"]["test"]["top1"].get<double>() <= m["splits"]["test"]["top5"].get<double>());
    // Every probe read the layer chosen on held-out training images, among convnet2's two.
    CHECK(m["layer_selection"]["top1"].size() == 2);
    CHECK(m["layer_selection"]["top1"].contains(m["layer"].get<std::string>()));
  }
  CHECK(names.front() == "simclr");
  CHECK(std::find(names.begin(), names.end(), "rotation") != names.end());
  CHECK(names.back() == "random");
  CHECK(r["methods"][0]["metrics"].size() == 1);  // one epoch
  // SimCLR's crop setting reached its run and is recorded with the study's.
  std::ifstream simclr_config(dir + "/simclr/config.json");
  CHECK(nlohmann::json::parse(simclr_config)["crop_min_scale"] == 0.5);
  CHECK(r["config"]["crop_min_scale"] == 0.5);
  std::ifstream html(dir + "/report.html");
  std::stringstream page;
  page << html.rdbuf();
  CHECK(page.str().find("<svg") != std::string::npos);
  CHECK(page.str().find("simclr") != std::string::npos);
  CHECK(page.str().find("linear @ pool") != std::string::npos);  // the layer beside the protocol
  CHECK(std::filesystem::exists(dir + "/results.json"));
  // A second run finds every run finished and only evaluates again.
  const nlohmann::json again = compare(a);
  CHECK(again["methods"][0]["metrics"] == r["methods"][0]["metrics"]);
  // ... but not one made with other settings.
  a.crop_min_scale = 0.08;
  CHECK_THROWS_WITH_AS(compare(a), doctest::Contains("crop_min_scale: saved 0.5, requested 0.08"), Error);
}

TEST_CASE("compare: a dataset that cannot be opened stops the study before anything runs or is written") {
  const test::TempDir temp("ssl_test_compare_bad");
  CompareOptions c = tiny("a", temp.path() + "/run");
  c.transfer = "folder:" + temp.path() + "/no_such_folder";
  CHECK_THROWS_WITH_AS(compare(c), doctest::Contains("no_such_folder"), ssl::Error);
  CHECK_FALSE(std::filesystem::exists(c.out_dir));
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
}
