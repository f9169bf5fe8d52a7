#include "ssl/relative_patch.h"

#include <algorithm>
#include <cmath>

#include "core/ops_nn.h"

namespace ssl {

namespace {

// Names this method's streams apart from every other use of (seed, epoch, index).
constexpr uint64_t kStreamTag = 0x52656c5061746368ull;  // "RelPatch"

// Standard normal draws from a stream (Box-Muller; the second value of each pair is kept for the next call).
class NormalDraws {
 public:
  explicit NormalDraws(rng::Stream& rng) : rng_(rng) {}
  double next() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const uint32_t a = rng_.next_u32(), b = rng_.next_u32(), c = rng_.next_u32(), d = rng_.next_u32();
    const double r = std::sqrt(-2.0 * std::log(rng::uniform01_open(a, b)));
    const double t = 2.0 * 3.14159265358979323846 * rng::uniform01_open(c, d);
    spare_ = r * std::sin(t);
    has_spare_ = true;
    return r * std::cos(t);
  }

 private:
  rng::Stream& rng_;
  double spare_ = 0;
  bool has_spare_ = false;
};

// Each (sample, patch, channel) plane of x [N, K, C, P, P] to zero mean and unit variance (with a floor on
// the variance).
Tensor normalise_planes(const Tensor& x) {
  const Tensor centred = sub(x, mean(x, {3, 4}, true));
  const Tensor var = mean(mul(centred, centred), {3, 4}, true);
  return div(centred, sqrt(add(var, RelativePatch::kNormEps)));
}

}  // namespace

patch::GridParams patch_grid_params(const PatchOptions& o, int64_t image_size) {
  SSL_CHECK(image_size >= 1 && image_size <= (1 << 24), "patch: bad image size ", image_size);
  SSL_CHECK(o.patch >= 0 && o.gap >= 0 && o.jitter >= 0,
            "patch: patch side, gap and jitter must be >= 0 (patch side 0 = derived from the image), got ",
            o.patch, ", ", o.gap, " and ", o.jitter);
  SSL_CHECK(o.patch > 0 || (o.gap == 0 && o.jitter == 0),
            "patch: a gap or jitter needs a patch side too (with patch side 0 all three are derived from the "
            "image size)");
  SSL_CHECK(o.patch <= image_size && o.gap <= image_size && o.jitter <= image_size, "patch: patch side ",
            o.patch, ", gap ", o.gap, " or jitter ", o.jitter, " larger than the ", image_size, " px images");
  const int side = int(image_size);
  patch::GridParams p;
  if (o.patch == 0) {
    p = patch::scaled_params(side);
    p.patch = std::max(4, p.patch / 4 * 4);
    p.gap = std::max(0, (side - 2 * p.jitter - 3 * p.patch) / 2);
  } else {
    p = patch::GridParams{int(o.patch), int(o.gap), int(o.jitter)};
  }
  SSL_CHECK(patch::grid_fits(p, side, side), "patch: a grid of 3 patches of ", p.patch, " px, gaps of ",
            p.gap, " px and jitter +-", p.jitter, " px needs ", patch::grid_extent(p), " px, more than the ",
            side, " px images", o.patch == 0 ? " (too small for 4 px patches)" : "");
  return p;
}

rng::Stream relative_patch_stream(const StepContext& context, int64_t index) {
  return context.stream(index, kStreamTag);
}

RelativePatch::RelativePatch(nn::EncoderPtr enc, patch::GridParams grid, std::string colour)
    : grid_(grid), colour_(std::move(colour)) {
  SSL_CHECK(colour_ == "gray" || colour_ == "drop", "patch: colour must be gray or drop, got '", colour_,
            "'");
  SSL_CHECK(grid_.patch > 0 && grid_.gap >= 0 && grid_.jitter >= 0, "patch: bad grid (patch ", grid_.patch,
            ", gap ", grid_.gap, ", jitter ", grid_.jitter, ")");
  SSL_CHECK(enc && (enc->image_size == 0 || enc->image_size == grid_.patch), "patch: the encoder takes ",
            enc ? enc->image_size : 0, " px images, but the patches are ", grid_.patch, " px");
  encoder = register_module("encoder", std::move(enc));
  classifier = register_module("classifier",
                               std::make_shared<nn::Linear>(2 * encoder->feature_dim, patch::kNeighbours));
}

PatchPairs RelativePatch::make_pairs(const Tensor& images, const std::vector<int64_t>& indices,
                                     const StepContext& context) const {
  SSL_CHECK(images.defined() && images.dim() == 4 && (images.size(1) == 3 || images.size(1) == 1),
            "patch: expected images [N, 3, H, W] (or [N, 1, H, W]), got ",
            images.defined() ? images.shape() : Shape{});
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  SSL_CHECK(n >= 1 && int64_t(indices.size()) == n, "patch: ", n, " images but ", indices.size(), " indices");
  SSL_CHECK(colour_ == "gray" || c == 3, "patch: dropping colour needs 3 channels, got ", c);
  SSL_CHECK(h <= (1 << 24) && w <= (1 << 24) && patch::grid_fits(grid_, int(h), int(w)), "patch: a grid of ",
            grid_.patch, " px patches, gaps of ", grid_.gap, " px and jitter +-", grid_.jitter, " px needs ",
            patch::grid_extent(grid_), " px, more than the ", h, "x", w, " images");
  NoGradGuard no_grad;

  std::vector<int64_t> offsets(static_cast<size_t>(n * 4)), labels(static_cast<size_t>(n));
  std::vector<rng::Stream> streams;
  streams.reserve(size_t(n));
  for (int64_t i = 0; i < n; ++i) {
    rng::Stream rng = relative_patch_stream(context, indices[size_t(i)]);
    uint32_t words[patch::kDrawsPerGrid];
    for (uint32_t& word : words) word = rng.next_u32();
    const int label = int(rng.below(patch::kNeighbours));
    const patch::Offset a = patch::patch_offset(grid_, int(h), int(w), patch::kCentreCell, words);
    const patch::Offset q = patch::patch_offset(grid_, int(h), int(w), patch::neighbour_cell(label), words);
    labels[size_t(i)] = label;
    const int64_t corners[4] = {a.y, a.x, q.y, q.x};
    std::copy(corners, corners + 4, offsets.begin() + 4 * i);
    streams.push_back(rng);  // continues with the colour draws
  }
  PatchPairs out;
  out.offsets = Tensor::from_vector(offsets, {n, 2, 2}, images.device());
  out.labels = Tensor::from_vector(labels, {n}, images.device());
  const Tensor crops = patch_crop(images.detach(), out.offsets, grid_.patch);  // [n, 2, c, P, P]
  const int64_t p = grid_.patch;

  if (colour_ == "gray") {
    Tensor gray = crops;
    if (c == 3) {
      const Tensor luma =
          Tensor::from_vector(std::vector<double>{0.299, 0.587, 0.114}, {1, 1, 3, 1, 1}, crops.device())
              .to(crops.dtype());
      gray = sum(mul(crops, luma), {2}, true);
    }
    out.patches = normalise_planes(gray).expand({n, 2, 3, p, p}).contiguous();
    return out;
  }

  // drop: per patch, anchor first, the kept channel, then the noise of the two others in channel order.
  // Samples own their streams and their slices of keep and noise, so they run in parallel.
  std::vector<double> keep(size_t(n * 2 * 3), 0.0), noise(size_t(n * 2 * 3 * p * p), 0.0);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    NormalDraws normal(streams[size_t(i)]);
    for (int64_t k = 0; k < 2; ++k) {
      const int64_t kept = int64_t(streams[size_t(i)].below(3));
      keep[size_t((i * 2 + k) * 3 + kept)] = 1.0;
      for (int64_t ch = 0; ch < 3; ++ch) {
        if (ch == kept) continue;
        double* plane = noise.data() + ((i * 2 + k) * 3 + ch) * p * p;
        for (int64_t e = 0; e < p * p; ++e) plane[e] = kDropNoise * normal.next();
      }
    }
  }
  out.patches = add(mul(normalise_planes(crops),
                        Tensor::from_vector(keep, {n, 2, 3, 1, 1}, crops.device()).to(crops.dtype())),
                    Tensor::from_vector(noise, {n, 2, 3, p, p}, crops.device()).to(crops.dtype()));
  return out;
}

Tensor RelativePatch::forward(const Tensor& patches) {
  SSL_CHECK(patches.dim() == 5 && patches.size(1) == 2 && patches.size(3) == grid_.patch &&
                patches.size(4) == grid_.patch,
            "patch: expected pairs [N, 2, C, ", grid_.patch, ", ", grid_.patch, "], got ", patches.shape());
  const int64_t n = patches.size(0);
  // Rows 2i and 2i+1 of the features are sample i's anchor and query, so a reshape concatenates them.
  const Tensor features =
      encoder->forward(patches.reshape({2 * n, patches.size(2), patches.size(3), patches.size(4)}));
  return classifier->forward(features.reshape({n, 2 * features.size(1)}));
}

Tensor RelativePatch::loss(const data::Batch& batch, const StepContext& context) {
  const PatchPairs pairs = make_pairs(batch.images, batch.indices, context);
  return classification_loss(forward(pairs.patches), pairs.labels);
}

}  // namespace ssl
