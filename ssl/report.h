// report.html: what `ssl compare` shows a person. Charts are SVG written by the program itself: the grouped
// Top-1/Top-5 bar chart by method and split (as the studies' histograms), per-epoch curves of every method's
// loss (and accuracy where the method logs one), the sample grids a method wrote, and the configuration.
// Everything comes from the study's results.json, so the report can be rebuilt from it alone.
//
// results.json, as ssl/compare.cpp writes it:
//   {"study": "a", "config": {...},
//    "methods": [{"name": "simclr", "dir": "simclr", "protocol": "linear", "layer": "pool2",
//                 "splits": {"train": {"top1", "top5", ...}, "test": {...}, "transfer": {...}},
//                 "metrics": [{"epoch": 1, "loss": ..., ...}, ...],   // per-epoch records of the run
//                 "samples": ["sgan/samples_epoch_005.png", ...]}]}  // image paths relative to the report
// or, for a study run with several seeds, the summary ssl/seed_summary.h describes (means with their standard
// deviations, drawn as whiskers; the curves and samples are in each seed's own report, which it links to).
#pragma once

#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ssl {

struct BarGroup {
  std::string label;
  std::vector<double> values;  // one per series; NaN = missing
  std::vector<double> errors;  // optional, one per series: a whisker of +/- this much (NaN or 0 = none)
};

// A grouped bar chart: one group per entry, one bar per series (values in [0, 1], drawn as percentages),
// with a whisker where an error is given.
std::string svg_grouped_bars(const std::string& title, const std::vector<std::string>& series,
                             const std::vector<BarGroup>& groups);

struct Curve {
  std::string label;
  std::vector<double> x, y;
  size_t colour = 0;  // index into the palette, so that a method has one colour on every chart
};

// Lines over a shared x axis (epochs), with a legend; a curve of one point is drawn as a dot. The y axis
// covers the values with a margin, stops at y_max (100 for accuracies in percent) and, for values that are
// never negative, at zero.
std::string svg_line_chart(const std::string& title, const std::string& y_label,
                           const std::vector<Curve>& curves,
                           double y_max = std::numeric_limits<double>::infinity());

// A method's protocol as tables show it: "linear @ pool2" when it names the layer its probe read.
std::string protocol_label(const nlohmann::json& method);

// A method's Top-k on a split (key "top1" or "top5") as tables show it: "56.85%", "59.47 ± 2.27%" for a mean
// over seeds, "—" when it was not measured.
std::string percent_label(const nlohmann::json& method, const std::string& split, const std::string& key);

// The whole page for a study's results.json.
std::string report_html(const nlohmann::json& results);

// Writes dir/report.html from dir/results.json's content.
void write_report(const std::string& dir, const nlohmann::json& results);

}  // namespace ssl
