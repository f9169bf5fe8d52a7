#include "ssl/features.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "data/transforms.h"
#include "ssl/progress.h"

namespace ssl {

data::LoaderOptions image_loader_options(int64_t batch_size, uint64_t seed, int workers) {
  data::LoaderOptions o;
  o.batch_size = batch_size;
  o.seed = seed;
  o.workers = workers;
  o.mean = {0.5f};
  o.stddev = {0.25f};
  return o;
}

Tensor layer_features(nn::Encoder& encoder, const Tensor& images, size_t layer) {
  const Tensor a = encoder.forward_to(images, layer);
  if (a.dim() != 4) return a;
  const int64_t c = a.size(1), h = a.size(2), w = a.size(3);
  if (c * h * w <= kMaxLayerFeatures) return a.flatten(1);
  const int64_t side =
      std::clamp<int64_t>(int64_t(std::sqrt(double(kMaxLayerFeatures / c))), 1, std::min(h, w));
  return adaptive_avg_pool2d(a, side, side).flatten(1);
}

Features compute_features(nn::Encoder& encoder, const data::Dataset& dataset, int64_t batch_size, int workers,
                          bool show_progress, Tensor* inputs, int64_t layer) {
  const size_t layers = encoder.layer_names().size();
  SSL_CHECK(layer >= -1 && layer < int64_t(layers), "compute_features: layer ", layer, " asked for; the ",
            "encoder has ", layers);
  const size_t at = layer < 0 ? layers - 1 : size_t(layer);
  const nn::EvalModeGuard eval(encoder);
  NoGradGuard no_grad;
  data::LoaderOptions opt = image_loader_options(batch_size, 0, workers);
  opt.shuffle = false;
  // The encoder runs where its parameters are; the features come back to the host (they are small).
  const Device device = encoder.device();
  opt.pin_memory = device.is_cuda();
  // Images of another size (STL-10's 96 px for an encoder trained at 32) are resized to the encoder's input.
  const std::unique_ptr<data::Resize> resize =
      encoder.image_size > 0 ? data::resize_if_needed(dataset, encoder.image_size) : nullptr;
  opt.transform = resize.get();
  data::Loader loader(dataset, opt);
  loader.start_epoch(0);
  std::vector<Tensor> xs, ys, images;
  Progress progress("features " + dataset.name(), loader.batches_per_epoch(), show_progress);
  data::Batch batch;
  int64_t done = 0;
  while (loader.next(batch)) {
    if (inputs) images.push_back(batch.images);
    xs.push_back(layer_features(encoder, batch.images.to(device), at).to(Device::cpu()));
    // Refused here, once for every protocol: a NaN would reach the probe as a diverging loss and kNN's
    // sort as an ordering that is not one.
    const int64_t bad = first_non_finite(xs.back());
    SSL_CHECK(bad < 0, "compute_features: the encoder's features of image ",
              done * opt.batch_size + bad / xs.back().size(1), " of ", dataset.name(), " at layer ",
              encoder.layer_names()[at], " are not finite (", xs.back().to_vector<float>()[size_t(bad)],
              "); its weights overflow on these images");
    ys.push_back(batch.labels);
    progress.update(++done, std::nan(""), batch.size());
  }
  progress.finish();
  SSL_CHECK(!xs.empty(), "compute_features: dataset ", dataset.name(), " is empty");
  if (inputs) *inputs = cat(images, 0);
  return {cat(xs, 0), cat(ys, 0)};
}

}  // namespace ssl
