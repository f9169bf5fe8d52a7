#include <doctest/doctest.h>

#include <string>

#include "core/error.h"
#include "data/registry.h"

using namespace ssl;
using namespace ssl::data;

TEST_CASE("open_dataset: synthetic specs") {
  auto train = open_dataset("synthetic");
  CHECK(train->size() == 10000);
  CHECK(train->name().find("synthetic:train") != std::string::npos);
  CHECK(open_dataset("synthetic:train")->size() == 10000);
  auto test = open_dataset("synthetic:test");
  CHECK(test->size() == 2000);
  CHECK(test->name().find("synthetic:test") != std::string::npos);
  CHECK(open_dataset("synthetic:test:50")->size() == 50);
  // Train and test are different pictures.
  CHECK(train->image(0) != test->image(0));
}

TEST_CASE("open_dataset: bad specs name what is accepted") {
  for (const std::string spec : {"", "cifar100", "synthetic:val", "synthetic:train:abc", "synthetic:train:0",
                                 "synthetic:train:5:x", "Synthetic"}) {
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
}
