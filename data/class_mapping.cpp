#include "data/class_mapping.h"

#include <array>
#include <cctype>
#include <map>
#include <utility>

#include "core/error.h"

namespace ssl::data {
namespace {

// Each row: the canonical word first, then the names folded into it.
const std::array<std::vector<const char*>, 3> kSynonyms = {{
    {"car", "automobile", "auto"},
    {"airplane", "aeroplane", "plane"},
    {"truck", "lorry"},
}};

// canonical name -> label; throws on two labels with the same canonical name.
std::map<std::string, int64_t> index_names(const Dataset& d, const std::vector<std::string>& names,
                                           const char* role) {
  SSL_CHECK(!names.empty(), "class mapping: the ", role, " dataset ", d.name(), " has no classes");
  std::map<std::string, int64_t> out;
  for (size_t k = 0; k < names.size(); ++k) {
    const auto [it, inserted] = out.emplace(canonical_class_name(names[k]), int64_t(k));
    SSL_CHECK(inserted, "class mapping: the ", role, " dataset ", d.name(), " has classes '",
              names[size_t(it->second)], "' and '", names[k], "' that both read as '", it->first,
              "'; expected distinct class names");
  }
  return out;
}

}  // namespace

std::string canonical_class_name(const std::string& name) {
  std::string s;
  for (const char ch : name) {
    const unsigned char u = static_cast<unsigned char>(ch);
    const char c = (ch == '_' || ch == '-' || std::isspace(u)) ? ' ' : char(std::tolower(u));
    if (c == ' ' && (s.empty() || s.back() == ' ')) continue;  // trims the front, folds runs of blanks
    s.push_back(c);
  }
  if (!s.empty() && s.back() == ' ') s.pop_back();  // a blank at the end (runs are already one)
  for (const auto& row : kSynonyms) {
    for (const char* word : row) {
      if (s == word) return row[0];
    }
  }
  return s;
}

int64_t ClassMapping::map(int64_t from_label) const {
  SSL_CHECK(from_label >= -1 && from_label < int64_t(to_label.size()), "class mapping: label ", from_label,
            " is outside -1..", int64_t(to_label.size()) - 1);
  return from_label < 0 ? -1 : to_label[size_t(from_label)];
}

std::string ClassMapping::describe() const {
  std::string out;
  for (size_t k = 0; k < from_names.size(); ++k) {
    if (to_label[k] >= 0) out += str_cat(from_names[k], " -> ", to_names[size_t(to_label[k])], "\n");
  }
  // "from" is the set being relabelled (e.g. a transfer test set), "to" the classes it is mapped into.
  out += str_cat("left out, no class of that name to map to: ", unmatched_from, "\n");
  out += str_cat("never present in the mapped set: ", unmatched_to, "\n");
  return out;
}

ClassMapping map_classes_by_name(const Dataset& from, const Dataset& to) {
  ClassMapping m;
  m.from_names = from.class_names();
  m.to_names = to.class_names();
  index_names(from, m.from_names, "source");  // rejects ambiguous source names
  const std::map<std::string, int64_t> targets = index_names(to, m.to_names, "target");
  std::vector<bool> used(m.to_names.size(), false);
  for (const std::string& name : m.from_names) {
    const auto it = targets.find(canonical_class_name(name));
    if (it == targets.end()) {
      m.to_label.push_back(-1);
      m.unmatched_from.push_back(name);
    } else {
      m.to_label.push_back(it->second);
      used[size_t(it->second)] = true;
    }
  }
  for (size_t k = 0; k < m.to_names.size(); ++k) {
    if (!used[k]) m.unmatched_to.push_back(m.to_names[k]);
  }
  return m;
}

void check_same_classes(const Dataset& trained, const Dataset& scored, const std::string& who) {
  SSL_CHECK(scored.class_names() == trained.class_names(), who, ": ", scored.name(), " has classes ",
            scored.class_names(), " but the classifier learns those of ", trained.name(), ", ",
            trained.class_names(),
            "; a classifier is scored on the classes it was trained on, in the same order");
}

RelabeledDataset::RelabeledDataset(std::shared_ptr<const Dataset> base, ClassMapping mapping)
    : base_(std::move(base)), mapping_(std::move(mapping)) {
  SSL_CHECK(base_ != nullptr, "RelabeledDataset: no base dataset");
  SSL_CHECK(base_->class_names() == mapping_.from_names,
            "RelabeledDataset: the mapping was made for classes ", mapping_.from_names, " but ",
            base_->name(), " has classes ", base_->class_names());
  for (int64_t i = 0; i < base_->size(); ++i) {
    if (mapping_.map(base_->label(i)) >= 0) indices_.push_back(i);
  }
}

int64_t RelabeledDataset::base_index(int64_t i) const {
  check_index(i, "base index");
  return indices_[size_t(i)];
}

Image RelabeledDataset::image(int64_t i) const { return base_->image(base_index(i)); }

int64_t RelabeledDataset::label(int64_t i) const { return mapping_.map(base_->label(base_index(i))); }

std::string RelabeledDataset::name() const {
  return str_cat(base_->name(), " in the classes of the target (", size(), " images of the ",
                 mapping_.matched_count(), " classes it shares with the target's ", num_classes(), ")");
}

}  // namespace ssl::data
