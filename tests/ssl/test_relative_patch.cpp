// Relative patch position: the tensor crop cuts what data::PatchGrid cuts from the same stream; the anchor
// is the centre cell and the query the labelled neighbour, inside the image with the configured gap and
// jitter; labels are spread over 0..7 and reproducible from (seed, epoch, index); gray patches have equal,
// normalised channels and dropped-colour patches one normalised channel; the method learns a fixed batch
// and trains from the runner, which saves an encoder for the patch side.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <numeric>

#include "core/ops_nn.h"
#include "data/synthetic.h"
#include "data/transforms_extra.h"
#include "nn/checkpoint.h"
#include "nn/optim.h"
#include "ssl/evaluate.h"
#include "ssl/pretrain.h"
#include "ssl/relative_patch.h"
#include "support/image_tensor.h"
#include "support/temp_dir.h"

using namespace ssl;
using ssl::test::as_tensor;

namespace {
std::vector<int64_t> iota(int64_t n, int64_t first = 0) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), first);
  return v;
}

// The gray, normalised p x p patch at (oy, ox) of image i of x [N, 3, H, W], computed directly.
std::vector<double> reference_gray_patch(const std::vector<float>& x, int64_t h, int64_t w, int64_t i,
                                         int64_t oy, int64_t ox, int64_t p) {
  std::vector<double> g(size_t(p * p));
  double mean = 0;
  for (int64_t y = 0; y < p; ++y)
    for (int64_t xx = 0; xx < p; ++xx) {
      const auto at = [&](int64_t ch) {
        return double(x[size_t(((i * 3 + ch) * h + oy + y) * w + ox + xx)]);
      };
      g[size_t(y * p + xx)] = 0.299 * at(0) + 0.587 * at(1) + 0.114 * at(2);
      mean += g[size_t(y * p + xx)] / double(p * p);
    }
  double var = 0;
  for (double v : g) var += (v - mean) * (v - mean) / double(p * p);
  for (double& v : g) v = (v - mean) / std::sqrt(var + RelativePatch::kNormEps);
  return g;
}

// Mean and (population) standard deviation of plane (i, k, ch) of patches [N, 2, 3, P, P].
std::pair<double, double> plane_stats(const std::vector<float>& v, int64_t i, int64_t k, int64_t ch,
                                      int64_t p) {
  const float* a = v.data() + ((i * 2 + k) * 3 + ch) * p * p;
  double m = 0, s = 0;
  for (int64_t e = 0; e < p * p; ++e) m += a[e] / double(p * p);
  for (int64_t e = 0; e < p * p; ++e) s += (a[e] - m) * (a[e] - m) / double(p * p);
  return {m, std::sqrt(s)};
}
}  // namespace

TEST_CASE("patch: grid parameters derived from the image size suit the encoder") {
  const patch::GridParams p32 = patch_grid_params({}, 32), p96 = patch_grid_params({}, 96);
  CHECK((p32.patch == 4 && p32.gap == 9 && p32.jitter == 1));
  CHECK((p96.patch == 20 && p96.gap == 16 && p96.jitter == 2));
  for (int64_t side : {12, 32, 64, 96, 128, 384}) {
    CAPTURE(side);
    const patch::GridParams p = patch_grid_params({}, side);
    CHECK(p.patch % 4 == 0);
    CHECK(patch::grid_fits(p, int(side), int(side)));
    CHECK(patch::grid_extent(p) >= side - 1);  // the grid still spans the image
  }
  const patch::GridParams given = patch_grid_params({8, 2, 3, "gray"}, 34);
  CHECK((given.patch == 8 && given.gap == 2 && given.jitter == 3));
  CHECK_THROWS_AS(patch_grid_params({0, 4, 0, "gray"}, 32), ssl::Error);   // a gap without a patch side
  CHECK_THROWS_AS(patch_grid_params({10, 2, 1, "gray"}, 32), ssl::Error);  // needs 36 px
  CHECK_THROWS_AS(patch_grid_params({}, 8), ssl::Error);
  CHECK_THROWS_AS(RelativePatch(nn::make_encoder("convnet2", 8), patch::GridParams{4, 9, 1}), ssl::Error);
  CHECK_THROWS_AS(RelativePatch(nn::make_encoder("convnet2", 4), patch::GridParams{4, 9, 1}, "sepia"),
                  ssl::Error);
}

TEST_CASE("patch_crop on a tensor cuts what data::PatchGrid cuts from an Image with the same stream") {
  data::Image img(37, 41, 3);
  for (int64_t e = 0; e < img.numel(); ++e) img.pixels[size_t(e)] = uint8_t((e * 37 + 11) % 251);
  const Tensor x = as_tensor(img);
  for (const data::PatchGridOptions opt :
       {data::PatchGridOptions{0, 0, 0}, data::PatchGridOptions{8, 3, 2}}) {
    const data::PatchGrid grid(opt);
    const patch::GridParams p = grid.params(img.h, img.w);
    rng::Stream a(7, 3), b(7, 3);
    const data::PatchGridSample sample = grid.grid(img, a);
    uint32_t words[patch::kDrawsPerGrid];
    for (uint32_t& word : words) word = b.next_u32();
    std::vector<int64_t> offsets;
    for (int cell = 0; cell < patch::kCells; ++cell) {
      const patch::Offset o = patch::patch_offset(p, int(img.h), int(img.w), cell, words);
      CHECK((o.y == sample.offsets[size_t(cell)].y && o.x == sample.offsets[size_t(cell)].x));
      offsets.push_back(o.y);
      offsets.push_back(o.x);
    }
    const Tensor patches = patch_crop(x, Tensor::from_vector(offsets, {1, patch::kCells, 2}), p.patch);
    REQUIRE(patches.shape() == Shape{1, patch::kCells, 3, p.patch, p.patch});
    for (int cell = 0; cell < patch::kCells; ++cell)
      CHECK(patches.select(1, cell).to_vector<float>() ==
            as_tensor(sample.patches[size_t(cell)]).to_vector<float>());
  }
  Tensor leaf = Tensor::zeros({1, 1, 4, 4});
  leaf.set_requires_grad();
  CHECK_THROWS_AS(patch_crop(leaf, Tensor::zeros({1, 1, 2}, DType::i64), 2), ssl::Error);
  NoGradGuard no_grad;
  CHECK(patch_crop(leaf, Tensor::zeros({1, 1, 2}, DType::i64), 2).shape() == Shape{1, 1, 1, 2, 2});
}

TEST_CASE("patch: the anchor is the centre cell and the query the labelled neighbour, inside the image") {
  manual_seed(3);
  const int64_t n = 48, h = 32, w = 32;
  RelativePatch method(nn::make_encoder("convnet2", 8), patch::GridParams{8, 2, 1});  // encoder unused here
  RelativePatch gray(nn::make_encoder("convnet2", 4), patch::GridParams{4, 9, 1});
  const Tensor x = Tensor::normal({n, 3, h, w}, 0, 1);
  const std::vector<float> xv = x.to_vector<float>();
  const StepContext context{17, 2};
  const std::vector<int64_t> indices = iota(n, 100);
  // The method's grid is fixed at construction; this one exercises jitter and a moving origin.
  RelativePatch jittered(nn::make_encoder("convnet2", 4), patch::GridParams{4, 3, 2});
  for (RelativePatch* m : {&gray, &jittered, &method}) {
    const patch::GridParams& g = m->grid();
    CAPTURE(g.patch);
    const PatchPairs pairs = m->make_pairs(x, indices, context);
    REQUIRE(pairs.patches.shape() == Shape{n, 2, 3, g.patch, g.patch});
    const std::vector<int64_t> offsets = pairs.offsets.to_vector<int64_t>();
    const std::vector<int64_t> labels = pairs.labels.to_vector<int64_t>();
    const std::vector<float> patches = pairs.patches.to_vector<float>();
    bool centre = true, neighbour = true, inside = true, spaced = true, content = true, as_patch_grid = true;
    for (int64_t i = 0; i < n; ++i) {
      rng::Stream rng = relative_patch_stream(context, indices[size_t(i)]);
      uint32_t words[patch::kDrawsPerGrid];
      for (uint32_t& word : words) word = rng.next_u32();
      const int64_t label = labels[size_t(i)];
      REQUIRE((label >= 0 && label < 8));
      const int cell = patch::neighbour_cell(int(label));
      const patch::Offset a = patch::patch_offset(g, int(h), int(w), patch::kCentreCell, words);
      const patch::Offset q = patch::patch_offset(g, int(h), int(w), cell, words);
      const int64_t* o = offsets.data() + 4 * i;
      centre = centre && o[0] == a.y && o[1] == a.x;
      neighbour = neighbour && o[2] == q.y && o[3] == q.x;
      for (int k = 0; k < 4; ++k) inside = inside && o[k] >= 0 && o[k] + g.patch <= (k % 2 ? w : h);
      // The query sits one step of patch + gap from the anchor in the labelled direction, up to the jitter.
      const int64_t step = g.patch + g.gap, ry = cell / 3 - 1, rx = cell % 3 - 1;
      spaced = spaced && std::abs(o[2] - o[0] - ry * step) <= 2 * g.jitter &&
               std::abs(o[3] - o[1] - rx * step) <= 2 * g.jitter;
      // Pixels: the gray, normalised crops at those offsets.
      for (int64_t k = 0; k < 2; ++k) {
        const std::vector<double> ref = reference_gray_patch(xv, h, w, i, o[2 * k], o[2 * k + 1], g.patch);
        for (int64_t e = 0; e < g.patch * g.patch; ++e)
          content = content && std::abs(patches[size_t(((i * 2 + k) * 3 + 0) * g.patch * g.patch + e)] -
                                        ref[size_t(e)]) < 1e-4;
      }
      // data::PatchGrid::pair on an image of the same size draws the same grid and label from the stream.
      rng::Stream same = relative_patch_stream(context, indices[size_t(i)]);
      const data::PatchPair pp = data::PatchGrid({g.patch, g.gap, g.jitter}).pair(data::Image(h, w, 3), same);
      as_patch_grid = as_patch_grid && pp.label == label && pp.grid.offsets[patch::kCentreCell].y == o[0] &&
                      pp.grid.offsets[patch::kCentreCell].x == o[1] &&
                      pp.grid.offsets[size_t(cell)].y == o[2] && pp.grid.offsets[size_t(cell)].x == o[3];
    }
    CHECK(centre);
    CHECK(neighbour);
    CHECK(inside);
    CHECK(spaced);
    CHECK(content);
    CHECK(as_patch_grid);
  }
  CHECK_THROWS_AS(method.make_pairs(Tensor::zeros({2, 3, 16, 16}), {0, 1}, context),
                  ssl::Error);                                         // too small
  CHECK_THROWS_AS(method.make_pairs(x, {0, 1}, context), ssl::Error);  // indices do not match
}

TEST_CASE("patch: labels spread over 0..7, reproducible from (seed, epoch, index)") {
  manual_seed(4);
  RelativePatch method(nn::make_encoder("convnet2", 4), patch_grid_params({}, 32));
  const int64_t n = 800;
  const Tensor x = Tensor::normal({n, 3, 32, 32}, 0, 1);
  const PatchPairs a = method.make_pairs(x, iota(n), {5, 1});
  std::vector<int64_t> counts(8, 0);
  for (int64_t label : a.labels.to_vector<int64_t>()) ++counts[size_t(label)];
  for (int64_t c : counts) CHECK((c > 60 && c < 140));  // 100 expected, standard deviation about 9.4
  // The same step again: identical; another epoch or seed: other draws.
  const PatchPairs b = method.make_pairs(x, iota(n), {5, 1});
  CHECK(a.labels.to_vector<int64_t>() == b.labels.to_vector<int64_t>());
  CHECK(a.offsets.to_vector<int64_t>() == b.offsets.to_vector<int64_t>());
  CHECK(a.patches.to_vector<float>() == b.patches.to_vector<float>());
  CHECK(a.labels.to_vector<int64_t>() != method.make_pairs(x, iota(n), {5, 2}).labels.to_vector<int64_t>());
  CHECK(a.labels.to_vector<int64_t>() != method.make_pairs(x, iota(n), {6, 1}).labels.to_vector<int64_t>());
  // A sample's draws depend on its index, not on its place in the batch (resumable, order-free).
  const PatchPairs part = method.make_pairs(x.slice(0, 10, 20), iota(10, 10), {5, 1});
  CHECK(part.labels.to_vector<int64_t>() == a.labels.slice(0, 10, 20).to_vector<int64_t>());
  CHECK(part.offsets.to_vector<int64_t>() == a.offsets.slice(0, 10, 20).to_vector<int64_t>());
  CHECK(part.patches.to_vector<float>() == a.patches.slice(0, 10, 20).to_vector<float>());
}

TEST_CASE("patch: gray patches have equal normalised channels; drop keeps one normalised channel") {
  manual_seed(6);
  const int64_t n = 32, p = 8;
  // Colourful input with different offsets and scales per channel, so nothing is normalised by chance.
  const Tensor x = add(mul(Tensor::normal({n, 3, 32, 32}, 0, 1),
                           Tensor::from_vector(std::vector<float>{2.f, 3.f, 4.f}, {1, 3, 1, 1})),
                       Tensor::from_vector(std::vector<float>{1.f, -2.f, 0.5f}, {1, 3, 1, 1}));
  const patch::GridParams grid{p, 2, 1};
  {
    RelativePatch gray(nn::make_encoder("convnet2", p), grid, "gray");
    const std::vector<float> v = gray.make_pairs(x, iota(n), {1, 0}).patches.to_vector<float>();
    bool equal = true, normalised = true;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < 2; ++k) {
        const float* a = v.data() + (i * 2 + k) * 3 * p * p;
        for (int64_t e = 0; e < p * p; ++e) equal = equal && a[e] == a[p * p + e] && a[e] == a[2 * p * p + e];
        const auto [m, s] = plane_stats(v, i, k, 0, p);
        normalised = normalised && std::abs(m) < 1e-5 && s > 0.99 && s <= 1.0 + 1e-5;
      }
    CHECK(equal);
    CHECK(normalised);
  }
  {
    RelativePatch drop(nn::make_encoder("convnet2", p), grid, "drop");
    const Tensor patches = drop.make_pairs(x, iota(n), {1, 0}).patches;
    CHECK(patches.to_vector<float>() == drop.make_pairs(x, iota(n), {1, 0}).patches.to_vector<float>());
    const std::vector<float> v = patches.to_vector<float>();
    bool one_kept = true;
    std::vector<int64_t> kept_count(3, 0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < 2; ++k) {
        int kept = 0;
        for (int64_t ch = 0; ch < 3; ++ch) {
          const auto [m, s] = plane_stats(v, i, k, ch, p);
          if (s > 0.99 && std::abs(m) < 1e-5) {
            ++kept;
            ++kept_count[size_t(ch)];
          } else {
            // noise at 1/100 of the kept channel's scale
            one_kept = one_kept && s > 0.3 * RelativePatch::kDropNoise && s < 3 * RelativePatch::kDropNoise &&
                       std::abs(m) < 3 * RelativePatch::kDropNoise;
          }
        }
        one_kept = one_kept && kept == 1;
      }
    CHECK(one_kept);
    for (int64_t c : kept_count) CHECK(c > 5);  // every channel is kept sometimes (64 patches)
  }
}

TEST_CASE("patch: shared encoder and classifier learn the positions of a fixed batch") {
  manual_seed(5);
  const data::SyntheticDataset ds(data::Split::train, 16);
  std::vector<Tensor> images;
  for (int64_t i = 0; i < ds.size(); ++i)
    images.push_back(mul(add(mul(as_tensor(ds.image(i)), Tensor::scalar(1.0 / 255)), -0.5), 4.0));
  const patch::GridParams grid{8, 2, 1};
  RelativePatch method(nn::make_encoder("convnet2", grid.patch), grid);
  CHECK(method.classifier->weight.shape() == Shape{8, 2 * method.encoder->feature_dim});
  const PatchPairs pairs = method.make_pairs(cat(images, 0), iota(16), {0, 0});
  nn::Adam opt(method.parameters(), 2e-3);
  double first = 0, last = 0;
  for (int step = 0; step < 30; ++step) {
    Tensor loss = cross_entropy(method.forward(pairs.patches), pairs.labels);
    (step == 0 ? first : last) = loss.item();
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  CHECK(first == doctest::Approx(std::log(8.0)).epsilon(0.25));
  CHECK(last < 0.8 * first);
}

TEST_CASE("patch: the pre-training runner trains it and saves an encoder for the patch side") {
  const test::TempDir temp("ssl_test_relative_patch_run");
  const std::string& dir = temp.path();
  PretrainOptions p;
  p.method = "patch";
  p.data = "synthetic:train:64";
  p.out_dir = dir;
  p.epochs = 2;
  p.batch_size = 16;
  p.workers = 2;
  p.show_progress = false;
  const auto metrics = pretrain(p);
  REQUIRE(metrics.size() == 2);
  for (const EpochMetrics& m : metrics) CHECK(std::isfinite(m.loss));
  for (const EpochMetrics& m : metrics) CHECK((m.train_top1 >= 0 && m.train_top1 <= 1));  // logged, not NaN
  CHECK(metrics[1].loss == doctest::Approx(std::log(8.0)).epsilon(0.3));  // 8 classes, barely trained
  REQUIRE(std::filesystem::exists(dir + "/encoder.safetensors"));
  nn::Metadata meta = nn::read_safetensors_metadata(dir + "/encoder.safetensors");
  CHECK(meta["image_size"] == "4");  // 32 px images: 4 px patches
  CHECK(meta["method"] == "patch");
  CHECK(load_encoder(dir)->image_size == 4);
  CHECK(std::filesystem::exists(dir + "/checkpoint.safetensors"));
  // The patch options travel through config.json.
  PretrainOptions q;
  q.patch = {8, 2, 3, "drop"};
  const PretrainOptions r = pretrain_options_from_json(pretrain_options_json(q));
  CHECK((r.patch.patch == 8 && r.patch.gap == 2 && r.patch.jitter == 3 && r.patch.colour == "drop"));
}
