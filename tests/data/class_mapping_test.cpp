#include <doctest/doctest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/cifar10.h"
#include "data/class_mapping.h"
#include "data/stl10.h"
#include "file_test_util.h"

using namespace ssl;
using namespace ssl::data;
using ssl::test::contains;
using ssl::test::error_of;
using ssl::test::FakeDataset;

namespace {

const std::vector<std::string> kCifar = {"airplane", "automobile", "bird",  "cat",  "deer",
                                         "dog",      "frog",       "horse", "ship", "truck"};
const std::vector<std::string> kStl = {"airplane", "bird",  "car",    "cat",  "deer",
                                       "dog",      "horse", "monkey", "ship", "truck"};

FakeDataset named(const std::vector<std::string>& names, std::vector<int64_t> labels = {0}) {
  return FakeDataset(std::move(labels), names);
}

}  // namespace

TEST_CASE("class mapping: CIFAR-10 to STL-10 and back") {
  const ClassMapping m = map_classes_by_name(named(kCifar), named(kStl));
  CHECK(m.to_label == std::vector<int64_t>{0, 2, 1, 3, 4, 5, -1, 6, 8, 9});
  CHECK(m.unmatched_from == std::vector<std::string>{"frog"});
  CHECK(m.unmatched_to == std::vector<std::string>{"monkey"});
  CHECK(m.matched_count() == 9);
  CHECK(m.map(1) == 2);   // automobile -> car
  CHECK(m.map(6) == -1);  // frog
  CHECK(m.map(-1) == -1);
  CHECK(contains(error_of([&] { m.map(10); }), "label 10 is outside -1..9"));
  CHECK(contains(m.describe(), "automobile -> car"));
  CHECK(contains(m.describe(), "[frog]"));
  CHECK(contains(m.describe(), "[monkey]"));

  const ClassMapping back = map_classes_by_name(named(kStl), named(kCifar));
  CHECK(back.to_label == std::vector<int64_t>{0, 2, 1, 3, 4, 5, 7, -1, 8, 9});
  CHECK(back.unmatched_from == std::vector<std::string>{"monkey"});
  CHECK(back.unmatched_to == std::vector<std::string>{"frog"});
}

TEST_CASE("check_same_classes: a classifier's test set must list its classes in the same order") {
  CHECK_NOTHROW(check_same_classes(named(kCifar), named(kCifar), "sgan --test"));
  // Same count, another order (CIFAR-10 and STL-10): label k would be scored as another class.
  const std::string msg = error_of([&] { check_same_classes(named(kCifar), named(kStl), "sgan --test"); });
  CHECK(contains(msg, "sgan --test: "));
  CHECK(contains(msg, "has classes [airplane, bird, car,"));
  CHECK(contains(msg, "[airplane, automobile, bird,"));
}

TEST_CASE("class mapping: canonical names") {
  CHECK(canonical_class_name("Automobile") == "car");
  CHECK(canonical_class_name("  aeroplane ") == "airplane");
  CHECK(canonical_class_name("plane") == "airplane");
  CHECK(canonical_class_name("Lorry") == "truck");
  CHECK(canonical_class_name("Tench_Fish") == "tench fish");
  CHECK(canonical_class_name("golden--retriever") == "golden retriever");
  CHECK(canonical_class_name("\tcat\r\n") == "cat");  // blanks of every kind, at either end
  CHECK(canonical_class_name("motor\t car") == "motor car");
  CHECK(canonical_class_name("frog") == "frog");
}

TEST_CASE("class mapping: ambiguous or empty class lists are errors") {
  std::string msg = error_of([&] {
    map_classes_by_name(named(kCifar), named({"car", "Automobile", "dog"}));
  });
  CHECK(contains(msg, "'car' and 'Automobile'"));
  CHECK(contains(msg, "target"));
  msg = error_of([&] { map_classes_by_name(named({"dog", "Dog"}), named(kStl)); });
  CHECK(contains(msg, "source"));
  CHECK(contains(error_of([&] { map_classes_by_name(named({}, {-1}), named(kStl)); }), "has no classes"));
}

TEST_CASE("RelabeledDataset: STL-10 labels in CIFAR-10's label space") {
  // STL-style labels: airplane, monkey, car, unlabelled, truck, horse.
  const auto stl = std::make_shared<FakeDataset>(std::vector<int64_t>{0, 7, 2, -1, 9, 6}, kStl);
  const FakeDataset cifar = named(kCifar);
  const RelabeledDataset view(stl, map_classes_by_name(*stl, cifar));
  REQUIRE(view.size() == 4);
  CHECK(view.num_classes() == 10);
  CHECK(view.class_names() == kCifar);
  CHECK(view.base_index(0) == 0);
  CHECK(view.base_index(1) == 2);
  CHECK(view.base_index(2) == 4);
  CHECK(view.base_index(3) == 5);
  CHECK(view.label(0) == 0);  // airplane
  CHECK(view.label(1) == 1);  // car -> automobile
  CHECK(view.label(2) == 9);  // truck
  CHECK(view.label(3) == 7);  // horse
  CHECK(view.image(1) == stl->image(2));
  CHECK(contains(error_of([&] { RelabeledDataset(stl, map_classes_by_name(cifar, *stl)); }),
                 "the mapping was made for classes"));
}

TEST_CASE("class mapping: the real CIFAR-10 and STL-10 name files") {
  ssl::test::TempDir dir;
  std::string cifar_names, stl_names;
  for (const std::string& n : kCifar) cifar_names += n + "\n";
  for (const std::string& n : kStl) stl_names += n + "\r\n";
  ssl::test::write_text(dir / "cifar/batches.meta.txt", cifar_names + "\n");
  std::vector<uint8_t> records(2 * 3073, 0);
  records[0] = 6;     // frog
  records[3073] = 1;  // automobile
  ssl::test::write_bytes(dir / "cifar/test_batch.bin", records);
  ssl::test::write_text(dir / "stl/class_names.txt", stl_names);
  ssl::test::write_bytes(dir / "stl/test_X.bin", std::vector<uint8_t>(3 * 27648, 0));
  ssl::test::write_bytes(dir / "stl/test_y.bin", {8, 3, 10});  // monkey, car, truck (1-based)

  const auto cifar = std::make_shared<Cifar10Dataset>(dir / "cifar", Split::test);
  const auto stl = std::make_shared<Stl10Dataset>(dir / "stl", Split::test);
  const ClassMapping m = map_classes_by_name(*cifar, *stl);
  CHECK(m.unmatched_from == std::vector<std::string>{"frog"});
  CHECK(m.unmatched_to == std::vector<std::string>{"monkey"});
  const RelabeledDataset cifar_as_stl(cifar, m);
  REQUIRE(cifar_as_stl.size() == 1);  // the frog is left out
  CHECK(cifar_as_stl.label(0) == 2);  // automobile -> car
  const RelabeledDataset stl_as_cifar(stl, map_classes_by_name(*stl, *cifar));
  REQUIRE(stl_as_cifar.size() == 2);  // the monkey is left out
  CHECK(stl_as_cifar.label(0) == 1);  // car -> automobile
  CHECK(stl_as_cifar.label(1) == 9);  // truck
}
