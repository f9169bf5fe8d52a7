#include "ssl/report.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/error.h"
#include "nn/checkpoint.h"

namespace ssl {

namespace {

// Colours that stay apart for the colour-blind (Okabe and Ito's palette), the yellow last: a thin line of it
// is hard to see on white.
const char* const kPalette[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7",
                                "#56B4E9", "#D55E00", "#000000", "#F0E442"};
const char* colour(size_t i) { return kPalette[i % (sizeof kPalette / sizeof kPalette[0])]; }

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string upper(std::string s) {
  for (char& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string fmt(double v, int decimals = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string text(double x, double y, const std::string& s, const std::string& attrs = "") {
  return str_cat("<text x=\"", fmt(x), "\" y=\"", fmt(y), "\" ", attrs, ">", escape(s), "</text>\n");
}

// A "nice" step for about `ticks` intervals over [lo, hi].
double tick_step(double lo, double hi, int ticks) {
  const double raw = std::max(hi - lo, 1e-12) / ticks, mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (raw <= m * mag) return m * mag;
  return 10 * mag;
}

}  // namespace

std::string svg_grouped_bars(const std::string& title, const std::vector<std::string>& series,
                             const std::vector<BarGroup>& groups) {
  const double width = 900, height = 380, left = 56, right = 16, top = 56, bottom = 64;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  std::string svg = str_cat("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"", fmt(width), "\" height=\"",
                            fmt(height), "\" font-family=\"sans-serif\" font-size=\"12\">\n");
  svg += text(width / 2, 22, title, "text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\"");
  // The height in the picture of a fraction in [0, 1] (SVG's y grows downwards).
  auto y_of = [&](double fraction) { return top + plot_h * (1 - std::clamp(fraction, 0.0, 1.0)); };
  for (int pct = 0; pct <= 100; pct += 20) {  // grid lines and the y axis labels
    const double y = y_of(pct / 100.0);
    svg += str_cat("<line x1=\"", fmt(left), "\" y1=\"", fmt(y), "\" x2=\"", fmt(width - right), "\" y2=\"",
                   fmt(y), "\" stroke=\"#ddd\"/>\n");
    svg += text(left - 6, y + 4, str_cat(pct, "%"), "text-anchor=\"end\"");
  }
  const double group_w = plot_w / std::max<size_t>(1, groups.size());
  const double bar_w = group_w * 0.8 / std::max<size_t>(1, series.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    const double x0 = left + g * group_w + group_w * 0.1;
    for (size_t s = 0; s < series.size() && s < groups[g].values.size(); ++s) {
      const double v = groups[g].values[s];
      if (!std::isfinite(v)) continue;
      const double x = x0 + s * bar_w, y = y_of(v), h = top + plot_h - y;
      svg += str_cat("<rect x=\"", fmt(x), "\" y=\"", fmt(y), "\" width=\"", fmt(bar_w * 0.92),
                     "\" height=\"", fmt(h), "\" fill=\"", colour(s), "\"><title>", escape(groups[g].label),
                     ", ", escape(series[s]), ": ", fmt(100 * v, 2), "%</title></rect>\n");
      const double error = s < groups[g].errors.size() ? groups[g].errors[s] : 0;
      const bool whisker = std::isfinite(error) && error > 0;
      if (whisker) {  // from mean - error to mean + error, with caps
        const double cx = x + bar_w * 0.46, cap = bar_w * 0.2;
        const double y_lo = y_of(v - error), y_hi = y_of(v + error);
        svg += str_cat("<path d=\"M", fmt(cx), " ", fmt(y_lo), "V", fmt(y_hi), "M", fmt(cx - cap), " ",
                       fmt(y_hi), "h", fmt(2 * cap), "M", fmt(cx - cap), " ", fmt(y_lo), "h", fmt(2 * cap),
                       "\" stroke=\"#333\" fill=\"none\"/>\n");
      }
      // The value above the bar (and its whisker); whole percents where "100.0" would be wider than a bar.
      if (bar_w >= 16)
        svg += text(x + bar_w * 0.46, y_of(whisker ? v + error : v) - 3, fmt(100 * v, bar_w >= 26 ? 1 : 0),
                    "text-anchor=\"middle\" font-size=\"9\"");
    }
    svg += text(x0 + group_w * 0.4, top + plot_h + 18, groups[g].label, "text-anchor=\"middle\"");
  }
  for (size_t s = 0; s < series.size(); ++s) {  // legend, one row under the title
    const double x = left + 8 + double(s) * (plot_w / std::max<size_t>(1, series.size()));
    svg +=
        str_cat("<rect x=\"", fmt(x), "\" y=\"32\" width=\"10\" height=\"10\" fill=\"", colour(s), "\"/>\n");
    svg += text(x + 14, 41, series[s]);
  }
  return svg + "</svg>\n";
}

std::string svg_line_chart(const std::string& title, const std::string& y_label,
                           const std::vector<Curve>& curves, double y_max) {
  // The legend takes three curves a row under the plot; rows beyond two make the chart taller.
  const double extra = 13 * std::max(0.0, std::ceil(double(curves.size()) / 3) - 2);
  const double width = 440, height = 290 + extra, left = 58, right = 12, top = 34, bottom = 70 + extra;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_lo = x_lo, y_hi = -x_lo;
  for (const Curve& c : curves)
    for (size_t i = 0; i < c.x.size() && i < c.y.size(); ++i) {
      if (!std::isfinite(c.y[i])) continue;
      x_lo = std::min(x_lo, c.x[i]), x_hi = std::max(x_hi, c.x[i]);
      y_lo = std::min(y_lo, c.y[i]), y_hi = std::max(y_hi, c.y[i]);
    }
  std::string svg = str_cat("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"", fmt(width), "\" height=\"",
                            fmt(height), "\" font-family=\"sans-serif\" font-size=\"11\">\n");
  svg += text(width / 2, 18, title, "text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\"");
  if (!std::isfinite(x_lo))
    return svg + text(width / 2, height / 2, "no data", "text-anchor=\"middle\"") + "</svg>\n";
  if (x_hi == x_lo) x_lo -= 0.5, x_hi += 0.5;  // one epoch: its point in the middle
  // A flat curve (or a single point) gets a margin of 5 % of its value, so that its ticks still differ.
  const double range = y_hi - y_lo;
  const double pad =
      range > 1e-9 * std::max(1.0, std::abs(y_hi)) ? range * 0.08 : std::max(std::abs(y_hi) * 0.05, 0.05);
  const double step = tick_step(y_lo - pad, std::min(y_hi + pad, y_max), 4);
  const bool non_negative = y_lo >= 0;
  y_lo = std::floor((y_lo - pad) / step) * step;
  y_hi = std::min(std::ceil((y_hi + pad) / step) * step, y_max);
  if (non_negative) y_lo = std::max(y_lo, 0.0);  // accuracies and losses: no axis below zero
  int decimals = 0;                              // enough to tell the ticks apart
  auto step_in_digits = [&] { return step * std::pow(10.0, decimals); };
  while (decimals < 6 && (std::round(step_in_digits()) == 0 ||
                          std::abs(step_in_digits() - std::round(step_in_digits())) > 1e-6))
    ++decimals;
  auto px = [&](double x) { return left + plot_w * (x - x_lo) / (x_hi - x_lo); };
  auto py = [&](double y) { return top + plot_h * (1 - (y - y_lo) / (y_hi - y_lo)); };
  for (double y = y_lo; y <= y_hi + step / 2; y += step) {
    svg += str_cat("<line x1=\"", fmt(left), "\" y1=\"", fmt(py(y)), "\" x2=\"", fmt(width - right),
                   "\" y2=\"", fmt(py(y)), "\" stroke=\"#ddd\"/>\n");
    svg += text(left - 5, py(y) + 4, fmt(y, decimals), "text-anchor=\"end\"");
  }
  const double x_step = std::max(1.0, tick_step(x_lo, x_hi, 5));
  for (double x = std::ceil(x_lo / x_step) * x_step; x <= x_hi; x += x_step)
    svg += text(px(x), top + plot_h + 14, fmt(x, 0), "text-anchor=\"middle\"");
  svg += text(left + plot_w / 2, top + plot_h + 28, "epoch", "text-anchor=\"middle\"");
  svg += text(14, top + plot_h / 2, y_label,
              str_cat("text-anchor=\"middle\" transform=\"rotate(-90 14 ", fmt(top + plot_h / 2), ")\""));
  for (size_t k = 0; k < curves.size(); ++k) {
    const Curve& c = curves[k];
    std::vector<std::pair<double, double>> at;  // the finite points, in pixels
    for (size_t i = 0; i < c.x.size() && i < c.y.size(); ++i)
      if (std::isfinite(c.y[i])) at.push_back({px(c.x[i]), py(c.y[i])});
    std::string points;
    for (const auto& [x, y] : at) points += fmt(x, 2) + "," + fmt(y, 2) + " ";
    svg += str_cat("<polyline fill=\"none\" stroke-width=\"2\" stroke=\"", colour(c.colour), "\" points=\"",
                   points, "\"/>\n");
    if (at.size() == 1)  // a line through one point draws nothing: a dot instead
      svg += str_cat("<circle cx=\"", fmt(at[0].first, 2), "\" cy=\"", fmt(at[0].second, 2),
                     "\" r=\"3\" fill=\"", colour(c.colour), "\"/>\n");
    const double lx = left + double(k % 3) * (plot_w / 3), ly = top + plot_h + 48 + 13 * double(k / 3);
    svg += str_cat("<rect x=\"", fmt(lx), "\" y=\"", fmt(ly - 9), "\" width=\"10\" height=\"10\" fill=\"",
                   colour(c.colour), "\"/>\n");
    svg += text(lx + 14, ly, c.label);
  }
  return svg + "</svg>\n";
}

namespace {

double split_value(const nlohmann::json& method, const std::string& split, const std::string& key) {
  if (!method.contains("splits") || !method["splits"].contains(split)) return std::nan("");
  const nlohmann::json& s = method["splits"][split];
  return s.contains(key) && s[key].is_number() ? s[key].get<double>() : std::nan("");
}

// The per-epoch metric `key` of one method as a curve in palette colour `colour`, or an empty one when the
// method does not log it.
Curve curve_of(const nlohmann::json& method, const std::string& key, size_t colour) {
  Curve c{method.value("name", "?"), {}, {}, colour};
  for (const nlohmann::json& m : method.value("metrics", nlohmann::json::array())) {
    if (!m.contains(key) || !m.contains("epoch") || !m[key].is_number()) continue;
    c.x.push_back(m["epoch"].get<double>());
    c.y.push_back(m[key].get<double>());
  }
  return c;
}

// Which transfer set the probes were tested on and which classes the matching by name left out (the same
// for every method, so said once); empty when no method has a transfer split.
std::string transfer_note(const nlohmann::json& methods) {
  for (const nlohmann::json& m : methods) {
    const nlohmann::json t = m.value("splits", nlohmann::json::object()).value("transfer", nlohmann::json());
    if (!t.is_object() || !t.contains("classes_left_out")) continue;
    // Lists print as the class mapping prints them on the console, e.g. [diamond].
    const auto names = [&](const char* side) {
      return t["classes_left_out"].value(side, std::vector<std::string>{});
    };
    return str_cat("<p><b>transfer</b>: ", escape(t.value("data", "?")), ", classes matched by name (",
                   t.value("classes_matched", 0), " classes, ", t.value("images", 0),
                   " images scored); left out, with no class of that name among the probe's: ",
                   escape(str_cat(names("split"))),
                   "; the probe's classes that it does not have: ", escape(str_cat(names("train"))),
                   "</p>\n");
  }
  return "";
}

}  // namespace

std::string percent_label(const nlohmann::json& method, const std::string& split, const std::string& key) {
  const double value = split_value(method, split, key), error = split_value(method, split, key + "_std");
  if (!std::isfinite(value)) return "—";
  return std::isfinite(error) ? str_cat(fmt(100 * value, 2), " ± ", fmt(100 * error, 2), "%")
                              : fmt(100 * value, 2) + "%";
}

std::string protocol_label(const nlohmann::json& method) {
  const std::string protocol = method.value("protocol", "");
  return method.contains("layer") ? protocol + " @ " + method["layer"].get<std::string>() : protocol;
}

std::string report_html(const nlohmann::json& r) {
  const nlohmann::json methods = r.value("methods", nlohmann::json::array());
  const std::string study = r.value("study", "");
  std::string html =
      str_cat("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>ssl compare — study ",
              escape(upper(study)),
              "</title>\n<style>body{font-family:sans-serif;margin:24px;max-width:980px}"
              "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px "
              "8px;text-align:right}"
              "th:first-child,td:first-child{text-align:left}figure{display:inline-block;margin:6px}"
              ".curves svg{margin:4px}</style></head><body>\n",
              "<h1>Study ", escape(upper(study)), ": ", escape(r.value("title", "")), "</h1>\n");

  // The grouped bar chart: one group per method, a bar per (split, Top-k).
  std::vector<std::string> splits;
  for (const char* s : {"train", "test", "transfer"})
    for (const nlohmann::json& m : methods)
      if (m.contains("splits") && m["splits"].contains(s) &&
          std::find(splits.begin(), splits.end(), s) == splits.end())
        splits.push_back(s);
  std::vector<std::string> series;
  for (const std::string& s : splits)
    for (const char* k : {"top1", "top5"})
      series.push_back(str_cat(s, " ", k == std::string("top1") ? "Top-1" : "Top-5"));
  std::vector<BarGroup> groups;
  for (const nlohmann::json& m : methods) {
    BarGroup g{m.value("name", "?"), {}, {}};
    for (const std::string& s : splits)
      for (const std::string k : {"top1", "top5"}) {
        g.values.push_back(split_value(m, s, k));
        g.errors.push_back(split_value(m, s, k + "_std"));  // NaN for a single run
      }
    groups.push_back(g);
  }
  const nlohmann::json runs = r.value("runs", nlohmann::json::array());
  html += "<h2>Accuracy by method and split</h2>\n";
  if (!runs.empty()) {
    std::string seeds;
    const nlohmann::json seed_list =
        r.value("config", nlohmann::json::object()).value("seeds", nlohmann::json::array());
    for (const nlohmann::json& seed : seed_list) seeds += (seeds.empty() ? "" : ", ") + seed.dump();
    html +=
        str_cat("<p>Mean over ", runs.size(), " runs with seeds ", escape(seeds),
                "; the whiskers and the ± are one sample standard deviation. Each run's own report, with its "
                "training curves and samples:");
    for (const nlohmann::json& dir : runs)
      html += str_cat(" <a href=\"", escape(dir.get<std::string>()), "/report.html\">",
                      escape(dir.get<std::string>()), "</a>");
    html += ".</p>\n";
  }
  html += svg_grouped_bars("Top-1 / Top-5 accuracy", series, groups);

  html += "<table><tr><th>method</th><th>protocol</th>";
  for (const std::string& s : series) html += "<th>" + escape(s) + "</th>";
  html += "</tr>\n";
  for (size_t i = 0; i < methods.size(); ++i) {
    html += str_cat("<tr><td>", escape(methods[i].value("name", "?")), "</td><td>",
                    escape(protocol_label(methods[i])), "</td>");
    for (const std::string& s : splits)
      for (const char* k : {"top1", "top5"}) html += "<td>" + percent_label(methods[i], s, k) + "</td>";
    html += "</tr>\n";
  }
  html += "</table>\n";
  for (const nlohmann::json& m : methods)
    if (m.contains("note"))
      html += str_cat("<p><b>", escape(m.value("name", "")), "</b>: ", escape(m["note"]), "</p>\n");
  html += transfer_note(methods);

  // Curves: each method's loss on its own axes (the losses are not on one scale), then any accuracy logged,
  // in percent. A method keeps one colour (from its place in the table) on every chart.
  std::string curves_html;
  for (size_t i = 0; i < methods.size(); ++i) {
    for (const char* key : {"loss", "d_loss", "g_loss"}) {
      const Curve c = curve_of(methods[i], key, i);
      // A loss that stays exactly 0 is a part that was not trained (the supervised-only SGAN's generator).
      const bool all_zero = std::all_of(c.y.begin(), c.y.end(), [](double v) { return v == 0; });
      if (!c.x.empty() && !all_zero)
        curves_html += svg_line_chart(str_cat(methods[i].value("name", "?"), ": ", key), key, {c});
    }
  }
  // train_top1 is each method's running accuracy on what it trains to predict, which for the pretext
  // tasks is not the classes: the chart says so, lest it be read as the probe's accuracy of the table.
  struct AccuracyChart {
    const char* key;
    const char* title;
    const char* y_label;
  };
  const AccuracyChart accuracy_charts[] = {
      {"train_top1", "accuracy on the training batches, each on its task", "accuracy (%)"},
      {"test_top1", "test accuracy per epoch", "test Top-1 (%)"}};
  bool pretext_accuracy = false;
  for (const AccuracyChart& chart : accuracy_charts) {
    const std::string key = chart.key;
    std::vector<Curve> curves;
    for (size_t i = 0; i < methods.size(); ++i) {
      Curve c = curve_of(methods[i], key, i);
      // The SGAN runner logs its running accuracy on the epoch's labelled batches, which the pre-training
      // runner calls train_top1, as train_accuracy.
      if (c.x.empty() && key == "train_top1") c = curve_of(methods[i], "train_accuracy", i);
      for (double& y : c.y) y *= 100;
      if (c.x.empty()) continue;
      curves.push_back(c);
      const std::string name = methods[i].value("name", "");
      pretext_accuracy |= key == "train_top1" && (name == "rotation" || name == "patch");
    }
    if (!curves.empty()) curves_html += svg_line_chart(chart.title, chart.y_label, curves, 100);
  }
  if (!curves_html.empty())
    html += "<h2>Training curves</h2>\n<div class=\"curves\">\n" + curves_html + "</div>\n";
  if (pretext_accuracy)
    html +=
        "<p>The accuracy on the training batches is each method's own task: rotation predicts one of 4 "
        "rotations and patch one of 8 positions (chance 25 % and 12.5 %), not the classes the linear "
        "probes of the table predict.</p>\n";

  std::string samples;
  for (const nlohmann::json& m : methods)
    for (const nlohmann::json& p : m.value("samples", nlohmann::json::array()))
      samples += str_cat("<figure><img src=\"", escape(p.get<std::string>()), "\" width=\"256\"><figcaption>",
                         escape(m.value("name", "")), ": ", escape(p.get<std::string>()),
                         "</figcaption></figure>\n");
  if (!samples.empty()) html += "<h2>Generated samples</h2>\n" + samples;

  html += "<h2>Configuration</h2>\n<table>\n";
  const nlohmann::json config = r.value("config", nlohmann::json::object());  // items() must not outlive it
  for (const auto& [key, value] : config.items())
    html += str_cat("<tr><td>", escape(key), "</td><td>",
                    escape(value.is_string() ? value.get<std::string>() : value.dump()), "</td></tr>\n");
  html += "</table>\n<p>Every number on this page is in results.json beside it.</p>\n</body></html>\n";
  return html;
}

void write_report(const std::string& dir, const nlohmann::json& results) {
  nn::make_directories(dir);
  nn::write_file_atomically(dir + "/report.html", report_html(results));
}

}  // namespace ssl
