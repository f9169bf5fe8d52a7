#include "ssl/seed_summary.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace ssl {

MeanStd mean_std(const std::vector<double>& values) {
  SSL_CHECK(!values.empty(), "mean_std: no values");
  MeanStd r;
  for (double v : values) r.mean += v;
  r.mean /= double(values.size());
  if (values.size() < 2) return r;
  double squares = 0;
  for (double v : values) squares += (v - r.mean) * (v - r.mean);
  r.std = std::sqrt(squares / double(values.size() - 1));
  return r;
}

namespace {

// A number as results.json holds it; null (a NaN written out) or absent is NaN, so the mean is missing too.
double number_or_nan(const nlohmann::json& object, const char* key) {
  return object.contains(key) && object[key].is_number() ? object[key].get<double>() : std::nan("");
}

// The layers the probes of one method read, in the first seed's order: "pool2" or "pool1/pool2".
std::string layers_of(const std::vector<nlohmann::json>& entries) {
  std::vector<std::string> layers;
  for (const nlohmann::json& m : entries) {
    const std::string layer = m["layer"].get<std::string>();
    if (std::find(layers.begin(), layers.end(), layer) == layers.end()) layers.push_back(layer);
  }
  std::string joined;
  for (const std::string& layer : layers) joined += (joined.empty() ? "" : "/") + layer;
  return joined;
}

// One method's entry over the seeds: the first seed's description, each split's numbers summarised.
nlohmann::json summarise_method(const std::vector<nlohmann::json>& entries) {
  const nlohmann::json& first = entries.front();
  nlohmann::json m = {{"name", first["name"]}, {"protocol", first["protocol"]}};
  if (first.contains("layer")) m["layer"] = layers_of(entries);
  if (first.contains("note")) m["note"] = first["note"];
  for (const auto& [split, value] : first["splits"].items()) {
    for (const nlohmann::json& e : entries)
      SSL_CHECK(e["splits"].contains(split), "compare: ", first["name"].get<std::string>(), " has no ", split,
                " split in every seed's run");
    // The images scored: one spec when every seed scored the same, else each seed's (study b draws its
    // labelled subset with the seed).
    nlohmann::json data = nlohmann::json::array();
    for (const nlohmann::json& e : entries) data.push_back(e["splits"][split].value("data", ""));
    const bool same_data = std::all_of(data.begin(), data.end(), [&](const auto& d) { return d == data[0]; });
    nlohmann::json s = {{"data", same_data ? data[0] : data}};
    // How many images, and which classes matched, does not depend on the seed: the first run's account
    // stands for all.
    for (const char* key : {"images", "classes_matched", "classes_left_out"})
      if (value.contains(key)) s[key] = value[key];
    for (const char* key : {"top1", "top5"}) {
      std::vector<double> runs;
      for (const nlohmann::json& e : entries) runs.push_back(number_or_nan(e["splits"][split], key));
      const MeanStd summary = mean_std(runs);
      s[key] = summary.mean;
      s[str_cat(key, "_std")] = summary.std;
      s[str_cat(key, "_runs")] = runs;
    }
    m["splits"][split] = s;
  }
  return m;
}

}  // namespace

nlohmann::json summarise_over_seeds(const std::vector<nlohmann::json>& runs,
                                    const std::vector<std::string>& run_dirs) {
  SSL_CHECK(!runs.empty() && runs.size() == run_dirs.size(), "summarise_over_seeds: ", runs.size(),
            " runs and ", run_dirs.size(), " directories");
  const nlohmann::json& first = runs.front();
  nlohmann::json summary = {{"study", first["study"]}, {"title", first["title"]}, {"runs", run_dirs}};
  nlohmann::json config = first["config"];
  config.erase("seed");
  config["seeds"] = nlohmann::json::array();
  for (const nlohmann::json& r : runs) config["seeds"].push_back(r["config"]["seed"]);
  summary["config"] = config;

  summary["methods"] = nlohmann::json::array();
  for (size_t i = 0; i < first["methods"].size(); ++i) {
    std::vector<nlohmann::json> entries;
    for (const nlohmann::json& r : runs) {
      SSL_CHECK(r["methods"].size() == first["methods"].size() &&
                    r["methods"][i]["name"] == first["methods"][i]["name"],
                "compare: the seeds' runs do not list the same methods (seed ", r["config"]["seed"].dump(),
                " differs from seed ", first["config"]["seed"].dump(), ")");
      entries.push_back(r["methods"][i]);
    }
    summary["methods"].push_back(summarise_method(entries));
  }
  return summary;
}

}  // namespace ssl
