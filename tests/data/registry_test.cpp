#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "core/error.h"
#include "data/image_grid.h"
#include "data/registry.h"
#include "data/synthetic.h"
#include "file_test_util.h"

using namespace ssl;
using namespace ssl::data;
using ssl::test::contains;
using ssl::test::error_of;

TEST_CASE("open_dataset: synthetic specs") {
  auto train = open_dataset("synthetic");
  CHECK(train->size() == 10000);
  CHECK(train->name().find("synthetic:train") != std::string::npos);
  CHECK(open_dataset("synthetic:train")->size() == 10000);
  auto test = open_dataset("synthetic:test");
  CHECK(test->size() == 2000);
  CHECK(test->name().find("synthetic:test") != std::string::npos);
  CHECK(open_dataset("synthetic:test:50")->size() == 50);
  auto transfer = open_dataset("synthetic:transfer");
  CHECK(transfer->size() == 2000);
  CHECK(transfer->name().find("synthetic:transfer") != std::string::npos);
  CHECK(transfer->image(0).h == 64);
  CHECK(open_dataset("synthetic:transfer:30")->size() == 30);
  // Train and test are different pictures.
  CHECK(train->image(0) != test->image(0));
}

TEST_CASE("open_dataset: bad specs name what is accepted") {
  for (const std::string spec :
       {"", "cifar100", "synthetic:val", "synthetic:transfer:x", "synthetic:train:abc", "synthetic:train:0",
        "synthetic:train:5:x", "Synthetic", "synthetic:train:200@4@2"}) {
    CAPTURE(spec);
    try {
      open_dataset(spec);
      FAIL("no error for '" << spec << "'");
    } catch (const ssl::Error& e) {
      const std::string msg = e.what();
      CHECK(msg.find("'" + spec + "'") != std::string::npos);
      CHECK(msg.find("synthetic:test") != std::string::npos);  // the list of accepted forms
    }
  }
  // Only the last '@' is a budget: an earlier one would be read as part of the split's name.
  CHECK(contains(error_of([] { open_dataset("synthetic:train:200@4@2"); }),
                 "two label budgets ('@4@2'); expected one '@N' at the end"));
}

TEST_CASE("open_dataset: options apply to every spec") {
  SUBCASE("--labels-per-class as a label budget, not both") {
    OpenOptions o;
    o.labels_per_class = 4;
    o.label_seed = 3;
    auto ds = open_dataset("synthetic:train:200", o);
    CHECK(ds->size() == 40);
    CHECK(ds->name() == open_dataset("synthetic:train:200@4,seed=3")->name());
    CHECK(ds->image(7) == open_dataset("synthetic:train:200@4,seed=3")->image(7));
    const std::string msg = error_of([&] { open_dataset("synthetic:train:200@4", o); });
    CHECK(contains(msg, "--labels-per-class"));
  }
  SUBCASE("folders: --image-size and --skip-bad-images, the spec's own size first") {
    ssl::test::TempDir dir;
    const Image img = SyntheticDataset(Split::test, 1).image(0);
    std::filesystem::create_directories(dir / "a");
    write_png(dir / "a/one.png", img);
    ssl::test::write_text(dir / "a/broken.png", "not a PNG");
    OpenOptions o;
    o.image_size = 16;
    CHECK(contains(error_of([&] { open_dataset("folder:" + dir.path(), o); }), dir / "a/broken.png"));
    o.skip_bad_images = true;
    auto ds = open_dataset("folder:" + dir.path(), o);
    CHECK(ds->size() == 1);
    CHECK(ds->image(0).h == 16);
    CHECK(open_dataset("folder:" + dir.path() + ":8", o)->image(0).h == 8);
    // An '@' not followed by a count is part of the folder's name; one that is, is a label budget.
    std::filesystem::create_directories(dir / "my@set/a");
    write_png(dir / "my@set/a/one.png", img);
    write_png(dir / "my@set/a/two.png", img);
    CHECK(open_dataset("folder:" + dir / "my@set")->size() == 2);
    CHECK(open_dataset("folder:" + dir / "my@set@1")->size() == 1);
  }
}
