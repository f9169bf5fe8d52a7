// What an SGAN run writes beside its checkpoint (ssl/sgan_internal.h; the list is in ssl/sgan.h): the epochs'
// metrics, the sample grids, the networks as they stand after each epoch, and results.json.
#include "ssl/sgan_internal.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "data/image_grid.h"
#include "nn/checkpoint.h"
#include "ssl/evaluate.h"

namespace ssl {

using json = nlohmann::json;

// ---- metrics ---------------------------------------------------------------------------------------------

json metrics_json(const std::vector<SganEpochMetrics>& metrics) {
  json a = json::array();
  for (const SganEpochMetrics& m : metrics)
    a.push_back({{"epoch", m.epoch},
                 {"d_loss", m.d_loss},
                 {"d_supervised", m.d_supervised},
                 {"d_unlabelled", m.d_unlabelled},
                 {"d_fake", m.d_fake},
                 {"g_loss", m.g_loss},
                 {"train_accuracy", m.train_accuracy},
                 {"test_top1", m.test_top1},
                 {"test_top5", m.test_top5},
                 {"seconds", m.seconds}});
  return a;
}

std::vector<SganEpochMetrics> sgan_metrics_from_json(const json& a, const std::string& source) {
  std::vector<SganEpochMetrics> out;
  try {
    for (const auto& m : a) {
      SganEpochMetrics e;
      e.epoch = m.at("epoch").get<int64_t>();
      e.d_loss = m.at("d_loss").get<double>();
      e.d_supervised = m.at("d_supervised").get<double>();
      e.d_unlabelled = m.at("d_unlabelled").get<double>();
      e.d_fake = m.at("d_fake").get<double>();
      e.g_loss = m.at("g_loss").get<double>();
      e.train_accuracy = m.at("train_accuracy").get<double>();
      e.test_top1 = m.at("test_top1").get<double>();
      e.test_top5 = m.at("test_top5").get<double>();
      e.seconds = m.at("seconds").get<double>();
      out.push_back(e);
    }
  } catch (const json::exception& e) {
    throw Error(str_cat(source, ": malformed metrics in the metadata (", e.what(), ")"));
  }
  return out;
}

std::string metrics_csv(const std::vector<SganEpochMetrics>& metrics) {
  std::string csv =
      "epoch,d_loss,d_supervised,d_unlabelled,d_fake,g_loss,train_accuracy,test_top1,test_top5,seconds\n";
  for (const SganEpochMetrics& m : metrics)
    csv += str_cat(m.epoch, ",", m.d_loss, ",", m.d_supervised, ",", m.d_unlabelled, ",", m.d_fake, ",",
                   m.g_loss, ",", m.train_accuracy, ",", m.test_top1, ",", m.test_top5, ",", m.seconds, "\n");
  return csv;
}

// ---- samples, networks, results --------------------------------------------------------------------------

namespace {

// The generator's images of `z` in eval mode (BatchNorm on running statistics, so writing samples changes
// nothing in the run), 8 to a row.
void write_samples(nn::SganGenerator& g, const Tensor& z, const std::string& path) {
  Tensor x;
  g.eval();
  {
    NoGradGuard no_grad;
    x = g.forward(z).contiguous();
  }
  g.train();
  const std::vector<float> v = x.to_vector<float>();
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  std::vector<data::Image> images;
  for (int64_t i = 0; i < n; ++i) {
    data::Image im(h, w, c);
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t xx = 0; xx < w; ++xx) {
          const float p = v[size_t(((i * c + ch) * h + y) * w + xx)];
          im(y, xx, ch) = uint8_t(std::lround(std::clamp((p + 1.f) * 127.5f, 0.f, 255.f)));
        }
    images.push_back(std::move(im));
  }
  data::ImageGridOptions grid;
  grid.columns = 8;
  grid.scale = std::max<int64_t>(1, 64 / h);  // small images enlarged to be seen
  grid.label_strips = false;                  // generated images have no class to show
  data::write_png(path, data::make_image_grid(images, {}, grid));
}

// The model name of an encoder spec (DIR or random:MODEL), for the exported encoder's metadata.
std::string encoder_model_name(const std::string& spec) {
  if (is_random_encoder(spec)) return random_encoder_model(spec);
  return encoder_metadata(spec).at("model");
}

std::string variant_name(const SganOptions& o) {
  if (o.unlabelled.empty()) return "supervised-only";
  return o.init_discriminator.empty() ? "semi-supervised" : "pretrained discriminator";
}

}  // namespace

void write_epoch_outputs(const SganOptions& o, const SganModels& models, const Tensor& fixed_z, int64_t epoch,
                         int64_t classes) {
  const bool generator_trains = !o.unlabelled.empty();  // a supervised-only run's never trains: no samples
  if (generator_trains && (epoch == 1 || epoch % o.sample_every == 0 || epoch == o.epochs)) {
    char name[64];
    std::snprintf(name, sizeof name, "/samples_epoch_%03lld.png", (long long)epoch);
    write_samples(*models.generator, fixed_z, o.out_dir + name);
  }
  const std::string epoch_str = std::to_string(epoch), size_str = std::to_string(o.image_size);
  nn::save_module(o.out_dir + "/generator.safetensors", *models.generator,
                  {{"architecture", "sgan_generator"},
                   {"latent", std::to_string(o.latent)},
                   {"image_size", size_str},
                   {"epoch", epoch_str}});
  nn::save_module(o.out_dir + "/discriminator.safetensors", models.evaluated(),
                  {{"architecture", o.init_discriminator.empty() ? "sgan_discriminator" : "encoder+linear"},
                   {"init", o.init_discriminator},
                   {"classes", std::to_string(classes)},
                   {"fake_logit", o.fake_logit},
                   {"ema_decay", str_cat(o.ema_decay)},  // > 0: these are the averaged weights
                   {"image_size", size_str},
                   {"epoch", epoch_str}});
  nn::save_safetensors(o.out_dir + "/encoder.safetensors", models.evaluated().encoder_state(),
                       {{"model", o.init_discriminator.empty() ? std::string("sgan_trunk")
                                                               : encoder_model_name(o.init_discriminator)},
                        {"image_size", size_str},
                        {"method", "sgan"},
                        {"epoch", epoch_str}});
}

void write_results(const SganOptions& o, const SganEpochMetrics& last, const TopK& train,
                   int64_t train_images, int64_t test_images) {
  const json results = {
      {"method", "sgan"},
      {"variant", variant_name(o)},
      {"feature_matching", o.feature_matching},
      {"fake_logit", o.fake_logit},
      {"unsupervised_weight", o.unsupervised_weight},
      {"ema_decay", o.ema_decay},
      {"epochs", last.epoch},
      {"train_accuracy", last.train_accuracy},
      {"splits",
       {{"train",
         {{"top1", train.top1}, {"top5", train.top5}, {"data", o.labelled}, {"images", train_images}}},
        {"test",
         {{"top1", last.test_top1}, {"top5", last.test_top5}, {"data", o.test}, {"images", test_images}}}}}};
  nn::write_file_atomically(o.out_dir + "/results.json", results.dump(2) + "\n");
}

}  // namespace ssl
