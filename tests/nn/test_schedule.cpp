// Learning-rate schedules against hand-computed values.
#include <doctest/doctest.h>

#include <cmath>

#include "core/error.h"
#include "nn/schedule.h"

using ssl::nn::LrSchedule;

TEST_CASE("cosine with linear warm-up") {
  LrSchedule s{LrSchedule::Kind::cosine, 1.0, 10, 110};
  CHECK(s.at(0) == doctest::Approx(0.1));
  CHECK(s.at(9) == doctest::Approx(1.0));
  CHECK(s.at(10) == doctest::Approx(1.0));
  CHECK(s.at(60) == doctest::Approx(0.5));
  CHECK(s.at(110) == doctest::Approx(0.0));
}

TEST_CASE("step and constant") {
  LrSchedule s{LrSchedule::Kind::step, 1.0, 0, 100, 30, 0.1};
  CHECK(s.at(29) == doctest::Approx(1.0));
  CHECK(s.at(30) == doctest::Approx(0.1));
  CHECK(s.at(65) == doctest::Approx(0.01));
  LrSchedule c{LrSchedule::Kind::constant, 0.5, 4};
  CHECK(c.at(1) == doctest::Approx(0.25));
  CHECK(c.at(1000) == doctest::Approx(0.5));
  CHECK_THROWS_AS(LrSchedule::parse_kind("linear"), ssl::Error);
}

TEST_CASE("a schedule out of range is refused rather than giving negative or shifted rates") {
  CHECK_THROWS_WITH_AS(LrSchedule({LrSchedule::Kind::step, 1.0, 0, 100, 30, -0.5}).at(40),
                       doctest::Contains("LrSchedule: expected peak and gamma finite and >= 0"), ssl::Error);
  CHECK_THROWS_AS(LrSchedule({LrSchedule::Kind::cosine, 1.0, 3, 10}).at(-5), ssl::Error);
  CHECK_THROWS_AS(LrSchedule({LrSchedule::Kind::cosine, 1.0, -5, 10}).at(0), ssl::Error);
  CHECK_THROWS_AS(LrSchedule({LrSchedule::Kind::constant, std::nan(""), 0}).at(0), ssl::Error);
}
