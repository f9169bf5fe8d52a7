// The SGAN's training loop (ssl/sgan.h): the discriminator step and the generator step that make a training
// step, an epoch of them, and train_sgan around it, which opens the data, builds the networks and writes each
// epoch's outputs. The networks, the data and the files written are in the files ssl/sgan_internal.h lists.
#include "ssl/sgan.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "kernels/compute_threads.h"
#include "nn/checkpoint.h"
#include "nn/optim.h"
#include "nn/train_state.h"
#include "ssl/evaluate.h"
#include "ssl/progress.h"
#include "ssl/resume_check.h"
#include "ssl/sgan_internal.h"

namespace ssl {

using json = nlohmann::json;

namespace {

// What the run's data holds, as config.json records it for check_same_data.
json counts_of(const SganData& d) {
  json counts = {{"labelled_images", d.labelled->size()},
                 {"test_images", d.test->size()},
                 {"steps_per_epoch", d.steps_per_epoch}};
  if (d.unlabelled) counts["unlabelled_images"] = d.unlabelled->size();
  return counts;
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
    // Weighted term by term (not their sum): at weight 1 the loss is added up as it always was, to the bit.
    d_loss = sup + l_unl * o.unsupervised_weight + l_fake * o.unsupervised_weight;
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

// One epoch of training steps (`epoch` counted from 0), each a discriminator step and, with unlabelled
// images, a generator step; then the check that the networks and optimizers hold finite values, and the score
// on the test images. `step` counts the run's steps (the average's decay follows it). Returns the epoch's
// record.
SganEpochMetrics run_sgan_epoch(const SganOptions& o, FakeLogit form, SganData& d, SganModels& models,
                                nn::Adam& opt_d, nn::Adam& opt_g, int64_t epoch, int64_t& step,
                                Device device) {
  const bool semi = !o.unlabelled.empty();
  Discriminator& disc = *models.discriminator;
  const auto start = std::chrono::steady_clock::now();
  if (semi) d.unl_loader->start_epoch(epoch);
  // The labelled loader's passes of epoch e are numbered from e · cycles, so a resumed run sees the same
  // batches.
  int64_t labelled_pass = epoch * d.cycles;
  d.lab_loader->start_epoch(labelled_pass);
  Progress progress(str_cat("epoch ", epoch + 1, "/", o.epochs), d.steps_per_epoch, o.show_progress);
  EpochSums sums;
  data::Batch lab, unl;
  while (sums.steps < d.steps_per_epoch) {
    if (semi && !d.unl_loader->next(unl)) break;
    SSL_CHECK(data::next_cycled(*d.lab_loader, lab, labelled_pass),
              "sgan: the labelled loader gave no batch");
    const std::vector<int64_t> y = lab.labels.to_vector<int64_t>();
    lab.to(device);  // the loaders' batches are made on the host
    if (semi) unl.to(device);

    const StepPlace place{epoch + 1, sums.steps + 1};
    const Tensor fake = discriminator_step(disc, *models.generator, opt_d, lab, y, semi ? &unl : nullptr, o,
                                           form, place, sums);
    if (models.discriminator_ema)
      update_average(*models.discriminator_ema, disc, ema_decay_at(o.ema_decay, step));
    if (semi) generator_step(disc, opt_g, fake, unl, o, form, place, sums);
    ++sums.steps;
    ++step;
    progress.update(sums.steps, sums.d / double(sums.steps), semi ? unl.size() : lab.size());
  }
  progress.finish();
  check_state_finite("sgan", models, {{"discriminator", &opt_d}, {"generator", &opt_g}}, epoch + 1);
  const TopK top = score_discriminator(models.evaluated(), *d.test_loader);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return epoch_metrics(epoch + 1, sums, top, seconds);
}

}  // namespace

void sgan_or_continue(SganOptions o, const std::string& name) {
  const std::string checkpoint_path = o.out_dir + "/" + kCheckpointFile;
  o.resume = false;
  if (std::filesystem::exists(checkpoint_path)) {
    const nn::TrainState state = nn::read_train_state(checkpoint_path, nn::kSganTrainStateFormat);
    SganOptions saved = saved_options(state, checkpoint_path, sgan_options_from_json);
    const StartingEncoder now{o.init_discriminator, encoder_fingerprint(o.init_discriminator)};
    if (same_starting_encoder({saved.init_discriminator, saved.init_fingerprint}, now))
      saved.init_discriminator = o.init_discriminator;
    if (!discard_if_init_changed(name, o.out_dir, {saved.init_discriminator, saved.init_fingerprint}, now,
                                 o.show_progress)) {
      o.init_fingerprint = saved.init_fingerprint;  // unchanged (or not recorded): not an option that differs
      check_sgan_resume_options(saved, o, checkpoint_path);
      check_same_plan(name, o.out_dir, saved.epochs, state.epoch, o.epochs);
      if (state.epoch >= o.epochs && std::filesystem::exists(o.out_dir + "/results.json")) {
        // Kept only for the data it was trained on, as a resume is continued only on it.
        check_same_data(json::parse(state.config_json), counts_of(open_sgan_data(o, Device::cpu())),
                        checkpoint_path);
        check_kept_encoder(o.out_dir, "sgan", state.epoch);
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
  SSL_CHECK(std::isfinite(o.unsupervised_weight) && o.unsupervised_weight >= 0,
            "sgan: the unsupervised weight must be a finite number >= 0, got ", o.unsupervised_weight);
  nn::check_sgan_image_size(o.image_size, "sgan: --image-size");
  const FakeLogit form = parse_fake_logit(o.fake_logit);
  const Device device = Device::parse_present(o.device);
  const std::string checkpoint_path = o.out_dir + "/" + kCheckpointFile;
  json saved_config;  // on resume, for the data check once the data is open
  if (o.resume) {
    // A run stopped after its last checkpoint but before its results.json only has its scoring left: it
    // resumes with no epoch to run.
    const bool unscored = !std::filesystem::exists(o.out_dir + "/results.json");
    const nn::TrainState state =
        read_state_to_resume(checkpoint_path, nn::kSganTrainStateFormat, o.epochs, unscored);
    SganOptions saved = saved_options(state, checkpoint_path, sgan_options_from_json);
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
  const json data_counts = counts_of(d);
  if (o.resume) check_same_data(saved_config, data_counts, checkpoint_path);
  json config = sgan_options_json(o);
  config["data_counts"] = data_counts;

  SganModels models = make_sgan_models(o, d.classes);
  models.to(device);  // before the optimizers, whose state is made beside each parameter
  models.train();
  nn::Adam opt_d(models.discriminator->parameters(), o.lr, o.beta1),
      opt_g(models.generator->parameters(), o.lr, o.beta1);
  // The checkpoint (nn/train_state.h) keeps both optimizers' states, under these names.
  const std::vector<nn::NamedOptimizer> optimizers = {{"discriminator", &opt_d}, {"generator", &opt_g}};
  // The samples' z comes from its own generator, so it is the same in every run and on resume.
  Generator sample_rng(rng::mix64(o.seed, 0x5347414E));
  const Tensor fixed_z = Tensor::normal({64, o.latent}, 0, 1, sample_rng).to(device);

  std::vector<SganEpochMetrics> metrics;
  int64_t step = 0, first_epoch = 0;
  // Made and locked once the data and both networks are known good: a mistyped path leaves no run directory
  // behind. Under the lock, a resume reads the state no other process moves on.
  nn::make_directories(o.out_dir);
  const RunDirectoryLock lock("sgan", o.out_dir);
  if (!o.resume) {
    check_no_run_to_overwrite("sgan", checkpoint_path);
  } else {
    const nn::TrainState saved =
        nn::load_train_state(checkpoint_path, models, optimizers, nn::kSganTrainStateFormat);
    first_epoch = saved.epoch;
    step = saved.global_step;
    metrics = sgan_metrics_from_json(json::parse(saved.metrics_json), checkpoint_path);
    continue_after(saved, metrics.size(), checkpoint_path);
  }
  // Nothing was written before this line: a resume that failed left the run's files as they were.
  nn::write_file_atomically(o.out_dir + "/config.json", config.dump(2) + "\n");

  for (int64_t epoch = first_epoch; epoch < o.epochs; ++epoch) {
    metrics.push_back(run_sgan_epoch(o, form, d, models, opt_d, opt_g, epoch, step, device));
    write_metrics_files(o.out_dir, metrics_json(metrics), metrics_csv(metrics));
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
