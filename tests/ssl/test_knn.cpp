// The kNN protocol on hand-made features: who the neighbours are, how they vote, leave-one-out.
#include <doctest/doctest.h>

#include <cmath>

#include "ssl/evaluate.h"
#include "ssl/knn.h"

using namespace ssl;

TEST_CASE("knn: the k most similar training features vote with weight exp((s - s_nearest) / T)") {
  // Training features on the unit circle (scale does not matter: they are normalised).
  const Tensor x = Tensor::from_vector<float>({1, 0, 0, 2, -3, 0, 0.8f, 0.6f}, {4, 2});
  const Tensor y = Tensor::from_vector<int64_t>({0, 1, 2, 1}, {4});
  const KnnClassifier knn(x, y, 3, {.k = 2, .temperature = 0.5});
  // Query (1, 0): similarities 1, 0, -1, 0.8 -> neighbours 0 (class 0) and 3 (class 1).
  const std::vector<float> s = knn.scores(Tensor::from_vector<float>({2, 0}, {1, 2})).to_vector<float>();
  CHECK(s[0] == doctest::Approx(1));
  CHECK(s[1] == doctest::Approx(std::exp((0.8 - 1) / 0.5)));
  CHECK(s[2] == 0);
  // Leave-one-out: sample 0 is not its own neighbour; its two nearest are 3 (0.8) and 1 (0).
  const std::vector<float> loo = knn.scores(x, true).to_vector<float>();
  CHECK(loo[0] == 0);
  CHECK(loo[1] == doctest::Approx(1 + std::exp((0 - 0.8) / 0.5)));
  // k above the training set: every sample votes.
  const KnnClassifier all(x, y, 3, {.k = 50, .temperature = 1});
  const std::vector<float> a = all.scores(Tensor::from_vector<float>({0, 1}, {1, 2})).to_vector<float>();
  CHECK(a[1] == doctest::Approx(1 + std::exp(0.6 - 1)));
  CHECK(a[2] == doctest::Approx(std::exp(0.0 - 1)));
}

TEST_CASE("knn: the scores depend neither on the features' scale nor, in ranking, on the temperature") {
  // Features as short as a random encoder's (1e-16): normalised like any others, not left unscaled.
  const Tensor x = Tensor::from_vector<float>({1, 0, 0, 2, -3, 0, 0.8f, 0.6f}, {4, 2});
  const Tensor y = Tensor::from_vector<int64_t>({0, 1, 2, 1}, {4});
  const Tensor query = Tensor::from_vector<float>({2, 0.5f}, {1, 2});
  const KnnClassifier unit(x, y, 3, {.k = 3, .temperature = 0.5});
  const KnnClassifier tiny(mul(x, 1e-16), y, 3, {.k = 3, .temperature = 0.5});
  const std::vector<float> a = unit.scores(query).to_vector<float>();
  const std::vector<float> b = tiny.scores(mul(query, 1e-16)).to_vector<float>();
  for (size_t c = 0; c < 3; ++c) CHECK(b[c] == doctest::Approx(a[c]).epsilon(1e-6));
  // A temperature at which exp(s / T) overflows float: the nearest neighbour's class still wins, alone.
  const KnnClassifier cold(x, y, 3, {.k = 3, .temperature = 0.001});
  const std::vector<float> c = cold.scores(query).to_vector<float>();
  CHECK(c[0] == 1);
  CHECK(c[1] > 0);  // exp(-48) from neighbour 3 (similarity 0.922 against 0.970), and less from 1
  CHECK(c[1] < 1e-15);
}

TEST_CASE("knn: bad arguments are refused") {
  const Tensor x = Tensor::from_vector<float>({1, 0, 0, 1}, {2, 2});
  CHECK_THROWS_AS(KnnClassifier(x, Tensor::from_vector<int64_t>({0, 3}, {2}), 2), ssl::Error);
  CHECK_THROWS_AS(KnnClassifier(x, Tensor::from_vector<int64_t>({0, 1}, {2}), 2, {.k = 0}), ssl::Error);
  const KnnClassifier knn(x, Tensor::from_vector<int64_t>({0, 1}, {2}), 2);
  CHECK_THROWS_AS(knn.scores(Tensor::zeros({1, 3})), ssl::Error);
  // A NaN row once scored as a zero vector: every class alike, and a plausible accuracy.
  CHECK_THROWS_WITH_AS(knn.scores(Tensor::full({2, 2}, std::nan(""))),
                       doctest::Contains("knn: the features of row 0 hold a NaN or an infinity"), ssl::Error);
  // One training sample scores other queries, but has no neighbour of its own to leave one out.
  const Tensor one = Tensor::from_vector<float>({1, 0}, {1, 2});
  const KnnClassifier single(one, Tensor::from_vector<int64_t>({1}, {1}), 2);
  CHECK(single.scores(x).size(0) == 2);
  CHECK_THROWS_WITH_AS(single.scores(one, /*exclude_self=*/true),
                       doctest::Contains("leave-one-out score needs at least 2"), ssl::Error);
}

TEST_CASE("eval --protocol knn: results for every split, leave-one-out on the training split") {
  EvalOptions e;
  e.encoder = "random:convnet2";
  e.protocol = "knn";
  e.train = "synthetic:train:300";
  e.test = "synthetic:test:60";
  e.knn.k = 20;
  e.show_progress = false;
  const nlohmann::json r = evaluate(e);
  CHECK(r["protocol"] == "knn");
  CHECK(r["knn"]["k"] == 20);
  for (const char* split : {"train", "test"}) {
    const double top1 = r["splits"][split]["top1"], top5 = r["splits"][split]["top5"];
    CHECK(top1 >= 0);
    CHECK(top1 <= top5);
    CHECK(top5 <= 1);
  }
  // Leave-one-out: with k = 1 a training image that were its own neighbour would always be right.
  e.knn.k = 1;
  const nlohmann::json one = evaluate(e);
  CHECK(one["splits"]["train"]["top1"].get<double>() < 0.9);
}
