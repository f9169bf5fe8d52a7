#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "data/registry.h"
#include "data/subset.h"
#include "data/synthetic.h"
#include "file_test_util.h"

using namespace ssl;
using namespace ssl::data;
using ssl::test::check_specs_refused;
using ssl::test::contains;
using ssl::test::error_of;
using ssl::test::FakeDataset;

namespace {

// 3 classes: class 0 has 6 images, class 1 has 4, class 2 has 5, plus 2 unlabelled images, interleaved.
std::shared_ptr<const Dataset> fake() {
  return std::make_shared<FakeDataset>(
      std::vector<int64_t>{0, 1, 2, 0, -1, 1, 2, 0, 0, 2, 1, -1, 0, 2, 1, 2, 0},
      std::vector<std::string>{"a", "b", "c"});
}

std::vector<int64_t> per_class_counts(const Dataset& d) {
  std::vector<int64_t> counts(size_t(d.num_classes()), 0);
  for (int64_t i = 0; i < d.size(); ++i) {
    if (d.label(i) >= 0) ++counts[size_t(d.label(i))];
  }
  return counts;
}

}  // namespace

TEST_CASE("LabelSubset: N per class, deterministic, nested, and its complement") {
  const std::shared_ptr<const Dataset> base = fake();
  const LabelSubset two(base, 2, 7);
  REQUIRE(two.size() == 6);
  CHECK(two.num_classes() == 3);
  CHECK(two.class_names() == base->class_names());
  CHECK(per_class_counts(two) == std::vector<int64_t>{2, 2, 2});
  CHECK(std::is_sorted(two.base_indices().begin(), two.base_indices().end()));
  for (int64_t i = 0; i < two.size(); ++i) {
    CHECK(two.label(i) == base->label(two.base_index(i)));
    CHECK(two.image(i) == base->image(two.base_index(i)));
  }
  // The same (N, seed) gives the same picks; budgets of one seed are nested.
  CHECK(LabelSubset(base, 2, 7).base_indices() == two.base_indices());
  const LabelSubset four(base, 4, 7);
  CHECK(per_class_counts(four) == std::vector<int64_t>{4, 4, 4});
  CHECK(std::includes(four.base_indices().begin(), four.base_indices().end(), two.base_indices().begin(),
                      two.base_indices().end()));
  // Another seed gives other picks (fixed seeds: this is a fixed fact, not a probability).
  CHECK(LabelSubset(base, 2, 8).base_indices() != two.base_indices());

  const LabelSubset rest(base, 2, 7, LabelSubset::Part::rest);
  CHECK(rest.size() == base->size() - 6);
  CHECK(rest.num_classes() == 3);
  std::set<int64_t> all(rest.base_indices().begin(), rest.base_indices().end());
  for (int64_t i = 0; i < rest.size(); ++i) CHECK(rest.label(i) == -1);
  for (const int64_t b : two.base_indices()) CHECK(all.insert(b).second);  // disjoint
  CHECK(int64_t(all.size()) == base->size());                              // and covering
  CHECK(contains(rest.name(), "rest unlabelled"));
  CHECK(contains(two.name(), "@2 per class, seed 7, labelled (6 images)"));
  CHECK(contains(error_of([&] { two.image(6); }), "out of range"));
}

TEST_CASE("LabelSubset: picks are spread by the seed, not the first N of each class") {
  const auto base = std::make_shared<SyntheticDataset>(Split::train, 1000);  // label i % 10
  const std::vector<int64_t> picks = LabelSubset::pick(*base, 5, 0);
  REQUIRE(picks.size() == 50);
  CHECK(picks.back() >= 100);  // the first 5 of every class would all lie below 50
  std::set<int64_t> seen;
  for (uint64_t seed = 0; seed < 4; ++seed) {
    for (const int64_t p : LabelSubset::pick(*base, 5, seed)) seen.insert(p);
  }
  CHECK(seen.size() > 100);  // four seeds share few images
}

TEST_CASE("LabelSubset: bad budgets") {
  const std::shared_ptr<const Dataset> base = fake();
  const std::string msg = error_of([&] { LabelSubset(base, 5, 0); });
  CHECK(contains(msg, "expected 5 images of class 1 ('b'), found 4"));
  CHECK(contains(error_of([&] { LabelSubset(base, 0, 0); }), "at least 1 image per class, got 0"));
  const auto unlabelled =
      std::make_shared<FakeDataset>(std::vector<int64_t>{-1, -1}, std::vector<std::string>{});
  CHECK(contains(error_of([&] { LabelSubset(unlabelled, 1, 0); }), "has no classes"));
  const auto bad =
      std::make_shared<FakeDataset>(std::vector<int64_t>{0, 3}, std::vector<std::string>{"a", "b"});
  CHECK(contains(error_of([&] { LabelSubset(bad, 1, 0); }), "image 1 has label 3; expected -1..1"));
}

TEST_CASE("LabelSubset: open_dataset budget suffix") {
  auto labelled = open_dataset("synthetic:train:200@3");
  CHECK(labelled->size() == 30);
  CHECK(per_class_counts(*labelled) == std::vector<int64_t>(10, 3));
  auto seeded = open_dataset("synthetic:train:200@3,seed=5");
  CHECK(seeded->size() == 30);
  const auto* a = dynamic_cast<const LabelSubset*>(labelled.get());
  const auto* b = dynamic_cast<const LabelSubset*>(seeded.get());
  REQUIRE(a != nullptr);
  REQUIRE(b != nullptr);
  CHECK(a->base_indices() != b->base_indices());
  CHECK(a->base_indices() == LabelSubset::pick(SyntheticDataset(Split::train, 200), 3, 0));
  auto rest = open_dataset("synthetic:train:200@3,rest,seed=5");
  CHECK(rest->size() == 170);
  CHECK(rest->label(0) == -1);
  CHECK(open_dataset("synthetic:test:100@1,seed=5,rest")->size() == 90);

  check_specs_refused({"synthetic@0", "synthetic@x", "synthetic@", "synthetic@3,foo", "synthetic@3,rest,rest",
                       "synthetic@3,seed=1,seed=2", "synthetic@3,seed=-1", "synthetic@-3"},
                      "SPEC@N");
  // A budget larger than a class is the subset's error.
  CHECK(contains(error_of([&] { open_dataset("synthetic:test:20@3"); }), "expected 3 images of class 0"));
  // Even one beyond any memory: the same error, not a failed allocation.
  CHECK(contains(error_of([&] { open_dataset("synthetic:test:20@1000000000000"); }),
                 "expected 1000000000000 images of class 0"));
}
