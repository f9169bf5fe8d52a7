#include "ssl/sgan.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "data/class_mapping.h"
#include "data/image_grid.h"
#include "data/loader.h"
#include "data/registry.h"
#include "data/transforms.h"
#include "kernels/compute_threads.h"
#include "nn/checkpoint.h"
#include "nn/optim.h"
#include "nn/sgan.h"
#include "nn/train_state.h"
#include "ssl/evaluate.h"
#include "ssl/linear_probe.h"
#include "ssl/progress.h"
#include "ssl/resume_check.h"

namespace ssl {

using json = nlohmann::json;

// ---- weight averaging ------------------------------------------------------------------------------------

double ema_decay_at(double decay, int64_t t) { return std::min(decay, double(1 + t) / double(10 + t)); }

void update_average(const nn::Module& average, const nn::Module& live, double d) {
  const auto avg = average.state(), cur = live.state();
  SSL_CHECK(avg.size() == cur.size(), "update_average: ", avg.size(), " tensors to average, ", cur.size(),
            " given");
  NoGradGuard no_grad;
  for (size_t i = 0; i < avg.size(); ++i) {
    Tensor a = avg[i].second;
    // Counters (BatchNorm's batches seen) are the live module's; only real values are averaged.
    a.copy_(a.dtype() == DType::i64 ? cur[i].second : a * d + cur[i].second * (1 - d));
  }
}

// ---- networks and the training checkpoint ----------------------------------------------------------------

namespace {

const char* const kCheckpoint = "checkpoint.safetensors";

// The discriminator as the runner uses it: penultimate features of images in [−1, 1], and K+1 logits.
class Discriminator : public nn::Module {
 public:
  virtual Tensor features(const Tensor& x) = 0;
  virtual Tensor classify(const Tensor& features) = 0;
  Tensor forward(const Tensor& x) override { return classify(features(x)); }
};

// nn::SganDiscriminator, with its own state_dict names (main.*).
class DcganDiscriminator final : public Discriminator {
 public:
  explicit DcganDiscriminator(std::shared_ptr<nn::SganDiscriminator> net) : net_(std::move(net)) {
    register_module("main", net_->main);
  }
  Tensor features(const Tensor& x) override { return net_->features(x); }
  Tensor classify(const Tensor& features) override { return net_->classify(features); }

 private:
  std::shared_ptr<nn::SganDiscriminator> net_;
};

// A pretrained encoder (encoder.*) with a new Linear(F → K+1) head (head.*).
class EncoderDiscriminator final : public Discriminator {
 public:
  EncoderDiscriminator(nn::EncoderPtr e, int64_t classes)
      : encoder(register_module("encoder", std::move(e))),
        head(register_module("head", std::make_shared<nn::Linear>(encoder->feature_dim, classes + 1))) {}
  // Doubling [−1, 1] gives (x/255 − 0.5) / 0.25, the normalisation the encoder was trained with.
  Tensor features(const Tensor& x) override { return encoder->forward(x * 2.0).flatten(1); }
  Tensor classify(const Tensor& features) override { return head->forward(features); }
  nn::EncoderPtr encoder;
  std::shared_ptr<nn::Linear> head;
};

// The networks as one module, so the checkpoint holds them under generator.*, discriminator.* and, when
// the discriminator is averaged, discriminator_ema.*.
class SganModels final : public nn::Module {
 public:
  SganModels(std::shared_ptr<nn::SganGenerator> g, std::shared_ptr<Discriminator> d,
             std::shared_ptr<Discriminator> d_ema)
      : generator(register_module("generator", std::move(g))),
        discriminator(register_module("discriminator", std::move(d))),
        discriminator_ema(d_ema ? register_module("discriminator_ema", std::move(d_ema)) : nullptr) {}
  Tensor forward(const Tensor& z) override { return discriminator->forward(generator->forward(z)); }
  // The discriminator that is evaluated and written out: the average when there is one.
  Discriminator& evaluated() const { return discriminator_ema ? *discriminator_ema : *discriminator; }
  std::shared_ptr<nn::SganGenerator> generator;
  std::shared_ptr<Discriminator> discriminator;
  std::shared_ptr<Discriminator> discriminator_ema;  // null without ema_decay
};

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// ---- data, evaluation, outputs ---------------------------------------------------------------------------

// Pixels to [−1, 1], the generator's tanh range; batches in pinned memory when training on a GPU.
data::LoaderOptions gan_loader_options(int64_t batch_size, uint64_t seed, int workers, Device device) {
  data::LoaderOptions lo;
  lo.batch_size = batch_size;
  lo.seed = seed;
  lo.workers = workers;
  lo.pin_memory = device.is_cuda();
  lo.mean = {0.5f};
  lo.stddev = {0.5f};
  return lo;
}

// A Resize to the run's size for a dataset whose images have another (STL-10's 96 px in a 64-px run).
std::unique_ptr<data::Transform> resize_for(const data::Dataset& d, int64_t size) {
  SSL_CHECK(d.size() > 0, "sgan: dataset ", d.name(), " is empty");
  const data::Image first = d.image(0);
  SSL_CHECK(first.c == 3, "sgan: ", d.name(), " has ", first.c,
            "-channel images; the networks take 3 channels");
  if (first.h == size && first.w == size) return nullptr;
  return std::make_unique<data::Resize>(size);
}

// Copies of a module's buffers (BatchNorm running statistics), and putting them back: the discriminator's
// passes over generated images would otherwise mix fake-batch statistics into the running ones that
// evaluation normalises real images with.
std::vector<Tensor> copy_buffers(const nn::Module& m) {
  std::vector<Tensor> out;
  for (const auto& [name, t] : m.named_buffers()) out.push_back(t.clone());
  return out;
}
void restore_buffers(const nn::Module& m, const std::vector<Tensor>& saved) {
  NoGradGuard no_grad;
  const auto buffers = m.named_buffers();
  for (size_t i = 0; i < buffers.size(); ++i) Tensor(buffers[i].second).copy_(saved[i]);
}

// Top-1/Top-5 of the discriminator's K-class prediction (logit K left out), in eval mode.
TopK score_discriminator(Discriminator& d, data::Loader& loader) {
  d.eval();
  NoGradGuard no_grad;
  loader.start_epoch(0);
  std::vector<Tensor> scores, labels;
  data::Batch batch;
  while (loader.next(batch)) {
    batch.to(d.device());
    scores.push_back(real_logits(d.forward(batch.images)).contiguous());
    labels.push_back(batch.labels);
  }
  d.train();
  return topk_accuracy(cat(scores, 0), cat(labels, 0));
}

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
  data::write_png(path, data::make_image_grid(images, {}, grid));
}

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

std::vector<SganEpochMetrics> metrics_from_json(const json& a, const std::string& source) {
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

void write_metrics(const std::string& dir, const std::vector<SganEpochMetrics>& metrics) {
  std::string jsonl,
      csv =
          "epoch,d_loss,d_supervised,d_unlabelled,d_fake,g_loss,train_accuracy,test_top1,test_top5,seconds\n";
  for (const json& m : metrics_json(metrics)) jsonl += m.dump() + "\n";
  for (const SganEpochMetrics& m : metrics)
    csv += str_cat(m.epoch, ",", m.d_loss, ",", m.d_supervised, ",", m.d_unlabelled, ",", m.d_fake, ",",
                   m.g_loss, ",", m.train_accuracy, ",", m.test_top1, ",", m.test_top5, ",", m.seconds, "\n");
  nn::write_file_atomically(dir + "/metrics.jsonl", jsonl);
  nn::write_file_atomically(dir + "/metrics.csv", csv);
}

// The model name of an encoder spec (DIR or random:MODEL), for the exported encoder's metadata.
std::string encoder_model_name(const std::string& spec) {
  if (starts_with(spec, "random:")) return spec.substr(7);
  return encoder_metadata(spec).at("model");
}

std::string variant_name(const SganOptions& o) {
  if (o.unlabelled.empty()) return "supervised-only";
  return o.init_discriminator.empty() ? "semi-supervised" : "pretrained discriminator";
}

SganOptions saved_sgan_options(const nn::TrainState& state, const std::string& path) {
  try {
    return sgan_options_from_json(json::parse(state.config_json));
  } catch (const json::exception& e) {
    throw Error(str_cat(path, ": malformed config in the metadata (", e.what(), ")"));
  }
}

}  // namespace

SganOptions sgan_resume_options(const std::string& dir) {
  const std::string path = dir + "/" + kCheckpoint;
  SganOptions o = saved_sgan_options(nn::read_train_state(path, nn::kSganTrainStateFormat), path);
  o.out_dir = dir;
  o.resume = true;
  return o;
}

// ---- the runner ------------------------------------------------------------------------------------------

namespace {

// The run's images and their loaders. An epoch is steps_per_epoch steps, one per unlabelled batch (without
// unlabelled images, one per labelled batch); the labelled loader is cycled `cycles` times within it.
struct SganData {
  std::unique_ptr<data::Dataset> labelled, unlabelled, test;  // unlabelled: semi-supervised runs only
  std::unique_ptr<data::Transform> labelled_resize, unlabelled_resize, test_resize;
  std::unique_ptr<data::Loader> lab_loader, unl_loader, test_loader;
  std::unique_ptr<data::Loader> labelled_scoring_loader;  // the labelled images in order, for the final score
  int64_t classes = 0, steps_per_epoch = 0, cycles = 0;
};

SganData open_sgan_data(const SganOptions& o, Device device) {
  SganData d;
  const bool semi = !o.unlabelled.empty();
  data::OpenOptions open;
  open.image_size = o.image_size;
  open.skip_bad_images = o.skip_bad_images;
  d.labelled = data::open_dataset(o.labelled, open);
  d.classes = d.labelled->num_classes();
  SSL_CHECK(d.classes >= 1, "sgan: the labelled data ", d.labelled->name(), " (", o.labelled,
            ") has no classes");
  if (semi) d.unlabelled = data::open_dataset(o.unlabelled, open);
  d.test = data::open_dataset(o.test, open);
  data::check_same_classes(*d.labelled, *d.test, "sgan --test");
  // Both are scored by label: checked now, before anything is written.
  for (const auto& [set, flag] :
       {std::pair{d.labelled.get(), "--labelled"}, std::pair{d.test.get(), "--test"}}) {
    const int64_t unlabelled = data::first_unlabelled(*set);
    SSL_CHECK(unlabelled < 0, "sgan: image ", unlabelled, " of ", flag, " ", set->name(), " is unlabelled; ",
              flag, " needs a labelled spec (e.g. SPEC@N, not SPEC@N,rest)");
  }

  d.labelled_resize = resize_for(*d.labelled, o.image_size);
  d.test_resize = resize_for(*d.test, o.image_size);
  if (semi) d.unlabelled_resize = resize_for(*d.unlabelled, o.image_size);

  // Labelled batches are at most the labelled set; both loaders drop a last partial batch (BatchNorm).
  data::LoaderOptions lab_opt = gan_loader_options(std::min(o.batch_size, d.labelled->size()),
                                                   rng::mix64(o.seed, 1), o.workers, device);
  lab_opt.drop_last = true;
  lab_opt.transform = d.labelled_resize.get();
  d.lab_loader = std::make_unique<data::Loader>(*d.labelled, lab_opt);
  if (semi) {
    data::LoaderOptions unl_opt = gan_loader_options(o.batch_size, rng::mix64(o.seed, 2), o.workers, device);
    unl_opt.drop_last = true;
    unl_opt.transform = d.unlabelled_resize.get();
    d.unl_loader = std::make_unique<data::Loader>(*d.unlabelled, unl_opt);
    SSL_CHECK(d.unl_loader->batches_per_epoch() > 0, "sgan: the unlabelled data ", d.unlabelled->name(),
              " has fewer images than one batch (", o.batch_size, ")");
  }
  // Scoring passes: every image once, in order, without augmentation.
  const auto scoring_loader = [&](const data::Dataset& data, const data::Transform* resize) {
    data::LoaderOptions opt = gan_loader_options(256, 0, o.workers, device);
    opt.shuffle = false;
    opt.transform = resize;
    return std::make_unique<data::Loader>(data, opt);
  };
  d.test_loader = scoring_loader(*d.test, d.test_resize.get());
  d.labelled_scoring_loader = scoring_loader(*d.labelled, d.labelled_resize.get());
  const int64_t lab_batches = d.lab_loader->batches_per_epoch();
  SSL_CHECK(lab_batches > 0, "sgan: the labelled data ", d.labelled->name(), " has fewer than 2 images");
  d.steps_per_epoch = semi ? d.unl_loader->batches_per_epoch() : lab_batches;
  if (o.max_steps_per_epoch > 0) d.steps_per_epoch = std::min(d.steps_per_epoch, o.max_steps_per_epoch);
  d.cycles = (d.steps_per_epoch + lab_batches - 1) / lab_batches;  // labelled passes per epoch
  return d;
}

// The discriminator the options ask for: the DCGAN-style one, or a pretrained encoder with a new head.
std::shared_ptr<Discriminator> make_discriminator(const SganOptions& o, int64_t classes) {
  if (o.init_discriminator.empty())
    return std::make_shared<DcganDiscriminator>(nn::sgan_discriminator(classes, o.image_size));
  nn::EncoderPtr encoder = load_encoder(o.init_discriminator, o.seed, o.image_size);
  SSL_CHECK(encoder->image_size == o.image_size, "sgan: the encoder of ", o.init_discriminator, " takes ",
            encoder->image_size, "-pixel images but the run's image size is ", o.image_size);
  SSL_CHECK(encoder->feature_dim > 0, "sgan: the encoder of ", o.init_discriminator,
            " does not say its feature size");
  return std::make_shared<EncoderDiscriminator>(encoder, classes);
}

// Where a step is in the run (both counted from 1), for errors.
struct StepPlace {
  int64_t epoch, step;
};

// What one epoch's steps add up, for its metrics.
struct EpochSums {
  double d = 0, supervised = 0, unlabelled = 0, fake = 0, g = 0;
  int64_t correct = 0, labelled_seen = 0, steps = 0;
};

// The discriminator step: the supervised term on the labelled batch (labels `y`) and, with an unlabelled
// batch, the unlabelled term on it and the generated term on as many images from the generator, which are
// returned for the generator step (undefined without one). `place` locates an error in the run.
Tensor discriminator_step(Discriminator& disc, nn::SganGenerator& gen, nn::Adam& opt_d,
                          const data::Batch& lab, const std::vector<int64_t>& y, const data::Batch* unl,
                          const SganOptions& o, FakeLogit form, const StepPlace& place, EpochSums& sums) {
  const Tensor logits_lab = disc.forward(lab.images);
  const Tensor sup = sgan_supervised_loss(logits_lab, lab.labels);
  Tensor d_loss = sup, fake;
  if (unl) {
    // z is drawn on the host from the run's generator, the same draws on any device.
    fake = gen.forward(Tensor::normal({unl->images.size(0), o.latent}, 0, 1).to(disc.device()));
    const Tensor l_unl = sgan_unlabelled_loss(disc.forward(unl->images), form);
    const std::vector<Tensor> running = copy_buffers(disc);
    const Tensor l_fake = sgan_fake_loss(disc.forward(fake.detach()), form);
    restore_buffers(disc, running);
    d_loss = sup + l_unl + l_fake;
    sums.unlabelled += l_unl.item();
    sums.fake += l_fake.item();
  }
  const double d_value = d_loss.item();
  SSL_CHECK(std::isfinite(d_value), "sgan: the discriminator's loss became ", d_value, " at epoch ",
            place.epoch, ", step ", place.step, "; try a lower --lr");
  const std::vector<int64_t> predicted = argmax(real_logits(logits_lab.detach()), 1).to_vector<int64_t>();
  for (size_t i = 0; i < y.size(); ++i) sums.correct += predicted[i] == y[i];
  sums.labelled_seen += int64_t(y.size());
  sums.supervised += sup.item();
  sums.d += d_value;
  opt_d.zero_grad();
  d_loss.backward();
  opt_d.step();
  return fake;
}

// The generator step, against the updated discriminator: feature matching with the unlabelled batch, or
// −log D(G(z)). The discriminator's running statistics are left as they were.
void generator_step(Discriminator& disc, nn::Adam& opt_g, const Tensor& fake, const data::Batch& unl,
                    const SganOptions& o, FakeLogit form, const StepPlace& place, EpochSums& sums) {
  const std::vector<Tensor> running = copy_buffers(disc);
  Tensor g_loss;
  if (o.feature_matching) {
    Tensor real_features;
    {
      NoGradGuard no_grad;
      real_features = disc.features(unl.images);
    }
    g_loss = sgan_feature_matching_loss(real_features, disc.features(fake));
  } else {
    g_loss = sgan_unlabelled_loss(disc.forward(fake), form);  // −log D(G(z))
  }
  restore_buffers(disc, running);
  const double g_value = g_loss.item();
  SSL_CHECK(std::isfinite(g_value), "sgan: the generator's loss became ", g_value, " at epoch ", place.epoch,
            ", step ", place.step, "; try a lower --lr");
  opt_g.zero_grad();
  g_loss.backward();
  opt_g.step();
  sums.g += g_value;
}

SganEpochMetrics epoch_metrics(int64_t epoch, const EpochSums& s, const TopK& test, double seconds) {
  const double n = double(std::max<int64_t>(1, s.steps));
  SganEpochMetrics m;
  m.epoch = epoch;
  m.d_loss = s.d / n;
  m.d_supervised = s.supervised / n;
  m.d_unlabelled = s.unlabelled / n;
  m.d_fake = s.fake / n;
  m.g_loss = s.g / n;
  m.train_accuracy = double(s.correct) / double(std::max<int64_t>(1, s.labelled_seen));
  m.test_top1 = test.top1;
  m.test_top5 = test.top5;
  m.seconds = seconds;
  return m;
}

// After an epoch: the sample grid when one is due, and both networks (and a pretrained discriminator's
// encoder) as they stand. A supervised-only run's generator never trains, so it draws no samples.
void write_epoch_outputs(const SganOptions& o, const SganModels& models, const Tensor& fixed_z, int64_t epoch,
                         int64_t classes) {
  const bool generator_trains = !o.unlabelled.empty();
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
  if (auto* e = dynamic_cast<EncoderDiscriminator*>(&models.evaluated())) {
    nn::save_module(o.out_dir + "/encoder.safetensors", *e->encoder,
                    {{"model", encoder_model_name(o.init_discriminator)},
                     {"image_size", size_str},
                     {"method", "sgan"},
                     {"epoch", epoch_str}});
  }
}

// `train`: the final discriminator scored on the labelled images, as the test set is (the metrics'
// train_accuracy is the running accuracy on the epoch's batches, while the weights still changed).
void write_results(const SganOptions& o, const SganEpochMetrics& last, const TopK& train,
                   int64_t train_images, int64_t test_images) {
  const json results = {
      {"method", "sgan"},
      {"variant", variant_name(o)},
      {"feature_matching", o.feature_matching},
      {"fake_logit", o.fake_logit},
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

}  // namespace

void sgan_or_continue(SganOptions o, const std::string& name) {
  const std::string checkpoint_path = o.out_dir + "/" + kCheckpoint;
  o.resume = false;
  if (std::filesystem::exists(checkpoint_path)) {
    const nn::TrainState state = nn::read_train_state(checkpoint_path, nn::kSganTrainStateFormat);
    SganOptions saved = saved_sgan_options(state, checkpoint_path);
    const StartingEncoder now{o.init_discriminator, encoder_fingerprint(o.init_discriminator)};
    if (same_starting_encoder({saved.init_discriminator, saved.init_fingerprint}, now))
      saved.init_discriminator = o.init_discriminator;
    if (!discard_if_init_changed(name, o.out_dir, {saved.init_discriminator, saved.init_fingerprint}, now,
                                 o.show_progress)) {
      o.init_fingerprint = saved.init_fingerprint;  // unchanged (or not recorded): not an option that differs
      check_sgan_resume_options(saved, o, checkpoint_path);
      check_same_plan(name, o.out_dir, saved.epochs, state.epoch, o.epochs);
      if (state.epoch >= o.epochs && std::filesystem::exists(o.out_dir + "/results.json")) {
        if (o.show_progress)
          std::printf("\n== %s: kept the finished run in %s (%lld epochs)\n", name.c_str(), o.out_dir.c_str(),
                      (long long)state.epoch);
        return;
      }
      o.resume = true;
    }
  }
  if (o.show_progress) std::printf("\n== %s -> %s\n", name.c_str(), o.out_dir.c_str());
  train_sgan(o);
}

std::vector<SganEpochMetrics> train_sgan(const SganOptions& given) {
  SganOptions o = given;
  o.init_fingerprint = encoder_fingerprint(o.init_discriminator);
  SSL_CHECK(o.epochs >= 1 && o.batch_size >= 2, "sgan: need epochs >= 1 and batch size >= 2, got ", o.epochs,
            " and ", o.batch_size);
  SSL_CHECK(o.latent >= 1 && o.sample_every >= 1, "sgan: need latent size >= 1 and sample_every >= 1, got ",
            o.latent, " and ", o.sample_every);
  SSL_CHECK(o.ema_decay >= 0 && o.ema_decay < 1, "sgan: the EMA decay must be in [0, 1), got ", o.ema_decay);
  nn::check_sgan_image_size(o.image_size, "sgan: --image-size");
  const FakeLogit form = parse_fake_logit(o.fake_logit);
  const Device device = Device::parse_present(o.device);
  const bool semi = !o.unlabelled.empty();
  const std::string checkpoint_path = o.out_dir + "/" + kCheckpoint;
  json saved_config;  // on resume, for the data check once the data is open
  if (o.resume) {
    // A run stopped after its last checkpoint but before its results.json only has its scoring left: it
    // resumes with no epoch to run.
    const bool unscored = !std::filesystem::exists(o.out_dir + "/results.json");
    const nn::TrainState state =
        read_state_to_resume("sgan", checkpoint_path, nn::kSganTrainStateFormat, o.epochs, unscored);
    SganOptions saved = saved_sgan_options(state, checkpoint_path);
    if (same_starting_encoder({saved.init_discriminator, saved.init_fingerprint},
                              {o.init_discriminator, o.init_fingerprint}))
      saved.init_discriminator = o.init_discriminator;
    saved_config = json::parse(state.config_json);
    check_init_unchanged(checkpoint_path, {saved.init_discriminator, saved.init_fingerprint},
                         {o.init_discriminator, o.init_fingerprint});
    check_sgan_resume_options(saved, o, checkpoint_path);
    o.threads = threads_to_resume_with(o.threads, saved.threads, checkpoint_path, o.show_progress);
  }
  const kernels::ComputeThreads threads(o.threads);
  o.threads = threads.count();
  manual_seed(o.seed);
  SganData d = open_sgan_data(o, device);
  json data_counts = {{"labelled_images", d.labelled->size()},
                      {"test_images", d.test->size()},
                      {"steps_per_epoch", d.steps_per_epoch}};
  if (d.unlabelled) data_counts["unlabelled_images"] = d.unlabelled->size();
  if (o.resume) check_same_data(saved_config, data_counts, checkpoint_path);
  json config = sgan_options_json(o);
  config["data_counts"] = data_counts;

  // The discriminator first: load_encoder("random:MODEL") reseeds the default generator.
  const std::shared_ptr<Discriminator> disc = make_discriminator(o, d.classes);
  std::shared_ptr<Discriminator> disc_ema;
  if (o.ema_decay > 0) {
    // A copy of the discriminator, made without drawing from the run's random streams: averaging changes
    // nothing in what is trained.
    const uint64_t seed = default_generator().seed(), used = default_generator().streams_used();
    disc_ema = make_discriminator(o, d.classes);
    default_generator().set_state(seed, used);
    update_average(*disc_ema, *disc, 0);
  }
  auto gen = std::make_shared<nn::SganGenerator>(o.latent, o.image_size);
  SganModels models(gen, disc, disc_ema);
  models.to(device);  // before the optimizers, whose state is made beside each parameter
  models.train();
  nn::Adam opt_d(disc->parameters(), o.lr, o.beta1), opt_g(gen->parameters(), o.lr, o.beta1);
  // The checkpoint (nn/train_state.h) keeps both optimizers' states, under these names.
  const std::vector<nn::NamedOptimizer> optimizers = {{"discriminator", &opt_d}, {"generator", &opt_g}};
  // The samples' z comes from its own generator, so it is the same in every run and on resume.
  Generator sample_rng(rng::mix64(o.seed, 0x5347414E));
  const Tensor fixed_z = Tensor::normal({64, o.latent}, 0, 1, sample_rng).to(device);

  std::vector<SganEpochMetrics> metrics;
  int64_t step = 0, first_epoch = 0;
  if (o.resume) {
    const nn::TrainState saved =
        nn::load_train_state(checkpoint_path, models, optimizers, nn::kSganTrainStateFormat);
    first_epoch = saved.epoch;
    step = saved.global_step;
    metrics = metrics_from_json(json::parse(saved.metrics_json), checkpoint_path);
    continue_after(saved, metrics.size(), checkpoint_path);
  }
  // Written once the data, both networks and any saved state are known good: a mistyped path leaves no run
  // directory behind, and a resume that fails leaves the run's files as they were.
  if (!o.resume) check_no_run_to_overwrite("sgan", checkpoint_path);
  nn::make_directories(o.out_dir);
  nn::write_file_atomically(o.out_dir + "/config.json", config.dump(2) + "\n");

  for (int64_t epoch = first_epoch; epoch < o.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    if (semi) d.unl_loader->start_epoch(epoch);
    int64_t cycle = 0;
    d.lab_loader->start_epoch(epoch * d.cycles);
    Progress progress(str_cat("epoch ", epoch + 1, "/", o.epochs), d.steps_per_epoch, o.show_progress);
    EpochSums sums;
    data::Batch lab, unl;
    while (sums.steps < d.steps_per_epoch) {
      if (semi && !d.unl_loader->next(unl)) break;
      if (!d.lab_loader->next(lab)) {
        ++cycle;
        d.lab_loader->start_epoch(epoch * d.cycles + cycle);
        SSL_CHECK(d.lab_loader->next(lab), "sgan: the labelled loader gave no batch");
      }
      const std::vector<int64_t> y = lab.labels.to_vector<int64_t>();
      lab.to(device);
      if (semi) unl.to(device);

      const StepPlace place{epoch + 1, sums.steps + 1};
      const Tensor fake =
          discriminator_step(*disc, *gen, opt_d, lab, y, semi ? &unl : nullptr, o, form, place, sums);
      if (disc_ema) update_average(*disc_ema, *disc, ema_decay_at(o.ema_decay, step));
      if (semi) generator_step(*disc, opt_g, fake, unl, o, form, place, sums);
      ++sums.steps;
      ++step;
      progress.update(sums.steps, sums.d / double(sums.steps), semi ? unl.size() : lab.size());
    }
    progress.finish();
    check_state_finite("sgan", models, {&opt_d, &opt_g}, epoch + 1);
    const TopK top = score_discriminator(models.evaluated(), *d.test_loader);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    metrics.push_back(epoch_metrics(epoch + 1, sums, top, seconds));
    write_metrics(o.out_dir, metrics);
    write_epoch_outputs(o, models, fixed_z, epoch + 1, d.classes);
    // Last, so that a crash before it resumes from the previous epoch and redoes this one.
    nn::save_train_state(checkpoint_path, models, optimizers,
                         state_after_epoch(epoch + 1, step, config, metrics_json(metrics)),
                         nn::kSganTrainStateFormat);
    if (o.stop_after_epochs > 0 && epoch + 1 >= o.stop_after_epochs) break;
  }
  write_results(o, metrics.back(), score_discriminator(models.evaluated(), *d.labelled_scoring_loader),
                d.labelled->size(), d.test->size());
  return metrics;
}

}  // namespace ssl
