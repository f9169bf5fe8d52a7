// The pre-training runner (ssl/pretrain.h): open the data and build the method, then train epoch by epoch,
// writing each epoch's metrics and networks and, last, the checkpoint a resumed run starts from.
#include "ssl/pretrain.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "data/registry.h"
#include "data/transforms.h"
#include "kernels/common/philox.h"
#include "kernels/compute_threads.h"
#include "nn/checkpoint.h"
#include "nn/optim.h"
#include "nn/schedule.h"
#include "nn/train_state.h"
#include "ssl/evaluate.h"
#include "ssl/features.h"
#include "ssl/method.h"
#include "ssl/progress.h"
#include "ssl/resume_check.h"
#include "ssl/supervised.h"

namespace ssl {

namespace {

// One epoch's record in metrics.jsonl and in the checkpoint's metadata.
nlohmann::json record_json(const EpochMetrics& m) {
  nlohmann::json r = {{"epoch", m.epoch},
                      {"loss", m.loss},
                      {"images_per_s", m.images_per_s},
                      {"seconds", m.seconds},
                      {"lr", m.lr}};
  if (std::isfinite(m.train_top1)) r["train_top1"] = m.train_top1;
  return r;
}

nlohmann::json metrics_json(const std::vector<EpochMetrics>& metrics) {
  nlohmann::json a = nlohmann::json::array();
  for (const EpochMetrics& m : metrics) a.push_back(record_json(m));
  return a;
}

std::vector<EpochMetrics> metrics_from_json(const nlohmann::json& a, const std::string& source) {
  std::vector<EpochMetrics> out;
  try {
    for (const auto& m : a)
      out.push_back({m.at("epoch").get<int64_t>(), m.at("loss").get<double>(),
                     m.at("images_per_s").get<double>(), m.at("seconds").get<double>(),
                     m.at("lr").get<double>(),
                     m.value("train_top1", std::numeric_limits<double>::quiet_NaN())});
  } catch (const nlohmann::json::exception& e) {
    throw Error(str_cat(source, ": malformed metrics in the metadata (", e.what(), ")"));
  }
  return out;
}

// The records as metrics.csv holds them.
std::string metrics_csv(const std::vector<EpochMetrics>& metrics) {
  std::string csv = "epoch,loss,images_per_s,seconds,lr,train_top1\n";
  for (const EpochMetrics& m : metrics)
    csv += str_cat(m.epoch, ",", m.loss, ",", m.images_per_s, ",", m.seconds, ",", m.lr, ",",
                   std::isfinite(m.train_top1) ? str_cat(m.train_top1) : "", "\n");
  return csv;
}

std::unique_ptr<nn::Optimizer> make_optimizer(const PretrainOptions& o, std::vector<Tensor> params) {
  if (o.optimizer == "sgd") return std::make_unique<nn::SGD>(std::move(params), o.lr, 0.9, o.weight_decay);
  if (o.optimizer == "adam")
    return std::make_unique<nn::Adam>(std::move(params), o.lr, 0.9, 0.999, 1e-8, o.weight_decay);
  if (o.optimizer == "adamw")
    return std::make_unique<nn::AdamW>(std::move(params), o.lr, 0.9, 0.999, 1e-8, o.weight_decay);
  if (o.optimizer == "lars") return std::make_unique<nn::LARS>(std::move(params), o.lr, 0.9, o.weight_decay);
  throw Error(str_cat("pretrain: unknown optimizer '", o.optimizer, "'; expected sgd, adam, adamw or lars"));
}

// The method and the data it trains on: its loader over --data (with the method's views and augmentation),
// and for --joint-probe a second loader over the labelled images, one batch of them per step.
struct PretrainSetup {
  std::unique_ptr<data::Dataset> images, labelled;
  std::unique_ptr<data::Transform> labelled_augment;
  MethodSetup method;
  std::unique_ptr<data::Loader> loader, labelled_loader;  // after what they read, so destroyed before it
  int64_t steps_per_epoch = 0;
};

// Opens the data, then builds the method (its model draws from the seeded default generator).
// `saved_steps_per_epoch`: on resume, the steps per epoch the run recorded (0 when it recorded none).
PretrainSetup open_pretrain_setup(const PretrainOptions& o, Device device, int64_t saved_steps_per_epoch) {
  PretrainSetup s;
  data::OpenOptions open;
  open.image_size = o.image_size;
  open.skip_bad_images = o.skip_bad_images;
  s.images = data::open_dataset(o.data, open);
  PretrainOptions with_probe = o;
  if (!o.joint_probe.empty()) {
    SSL_CHECK(o.method == "simclr", "pretrain: --joint-probe trains a probe beside SimCLR; method is ",
              o.method);
    s.labelled = data::open_dataset(o.joint_probe, open);
    SSL_CHECK(s.labelled->num_classes() >= 2, "pretrain: the --joint-probe data ", s.labelled->name(),
              " needs labels of at least 2 classes");
    const int64_t unlabelled = data::first_unlabelled(*s.labelled);
    SSL_CHECK(unlabelled < 0, "pretrain: image ", unlabelled, " of the --joint-probe data ",
              s.labelled->name(),
              " is unlabelled; the probe needs a labelled spec (a label budget SPEC@N, not SPEC@N,rest)");
    with_probe.simclr.probe_classes = s.labelled->num_classes();
    s.labelled_augment = data::crop_flip_augment(o.image_size);
    data::LoaderOptions ll = image_loader_options(std::min(o.batch_size, s.labelled->size()),
                                                  rng::mix64(o.seed, 0x6a6f696e74ull), o.workers);
    ll.transform = s.labelled_augment.get();
    ll.pin_memory = device.is_cuda();
    s.labelled_loader = std::make_unique<data::Loader>(*s.labelled, ll);
  }
  s.method = make_method(with_probe, *s.images);
  data::LoaderOptions lo = image_loader_options(o.batch_size, o.seed, o.workers);
  lo.views = s.method.views;
  // A last batch of one image would leave batch norm a single value per channel wherever an encoder's maps
  // are 1 x 1 (an error, as in PyTorch); it is dropped instead. Shuffled, it is another image each epoch.
  // A run started before this rule counted that batch in its steps, and resumes as it started.
  const int64_t images = s.images->size(), all_batches = (images + o.batch_size - 1) / o.batch_size;
  const bool lone_last_image = images % o.batch_size == 1 && saved_steps_per_epoch != all_batches;
  lo.drop_last = s.method.drop_last || lone_last_image;
  lo.transform = s.method.augmentation.get();
  lo.pin_memory = device.is_cuda();
  s.loader = std::make_unique<data::Loader>(*s.images, lo);
  SSL_CHECK(s.loader->batches_per_epoch() > 0, "pretrain: dataset ", s.images->name(),
            " has fewer images than one batch (", o.batch_size, ")");
  s.steps_per_epoch = o.max_steps_per_epoch > 0
                          ? std::min(o.max_steps_per_epoch, s.loader->batches_per_epoch())
                          : s.loader->batches_per_epoch();
  return s;
}

// The steps per epoch a run's config.json recorded, 0 where it recorded none.
int64_t recorded_steps_per_epoch(const nlohmann::json& config) {
  return config.contains("data_counts") ? config["data_counts"].value("steps_per_epoch", int64_t(0)) : 0;
}

// What the run's data holds, as config.json records it for check_same_data.
nlohmann::json counts_of(const PretrainSetup& s) {
  nlohmann::json counts = {{"images", s.images->size()}, {"steps_per_epoch", s.steps_per_epoch}};
  if (s.labelled) counts["joint_probe_images"] = s.labelled->size();
  return counts;
}

nn::LrSchedule make_schedule(const PretrainOptions& o, int64_t steps_per_epoch) {
  nn::LrSchedule schedule;
  schedule.kind = nn::LrSchedule::parse_kind(o.schedule);
  schedule.peak = o.lr;
  schedule.total_steps = steps_per_epoch * o.epochs;
  schedule.warmup_steps = std::min(schedule.total_steps / 2, steps_per_epoch * o.warmup_epochs);
  // "step": ×0.1 after a third and after two thirds of the steps that follow the warm-up (rounded up, so
  // that a third decay never falls inside the run).
  const int64_t decaying = schedule.total_steps - schedule.warmup_steps;
  schedule.step_size = std::max<int64_t>(1, (decaying + 2) / 3);
  return schedule;
}

// One epoch of training steps; `step` counts the run's steps and sets each one's learning rate.
EpochMetrics train_epoch(const PretrainOptions& o, PretrainSetup& s, nn::Optimizer& optimizer,
                         const nn::LrSchedule& schedule, int64_t epoch, int64_t& step, Device device) {
  PretextMethod& model = *s.method.model;
  const auto start = std::chrono::steady_clock::now();
  s.loader->start_epoch(epoch);
  Progress progress(str_cat("epoch ", epoch + 1, "/", o.epochs), s.steps_per_epoch, o.show_progress);
  data::Batch batch, labelled_batch;
  // The labelled loader's passes are numbered from a position fixed by the epoch, so a resumed run sees the
  // same batches. The stride leaves room for every pass an epoch makes: 1000 (what saved runs used, so they
  // resume with the same batches), or more for an epoch that makes more passes over a small label set.
  int64_t labelled_epoch = 0;
  if (s.labelled_loader) {
    const int64_t passes = s.steps_per_epoch / s.labelled_loader->batches_per_epoch() + 1;
    labelled_epoch = epoch * std::max<int64_t>(1000, passes);
    s.labelled_loader->start_epoch(labelled_epoch);
  }
  double loss_sum = 0, accuracy_sum = 0;
  int64_t images = 0, done = 0, accuracy_steps = 0;
  while (done < s.steps_per_epoch && s.loader->next(batch)) {
    optimizer.lr = schedule.at(step);
    StepContext context{o.seed, epoch};
    if (s.labelled_loader) {
      SSL_CHECK(data::next_cycled(*s.labelled_loader, labelled_batch, labelled_epoch),
                "pretrain: no labelled batch in ", s.labelled->name());
      context.labelled = &labelled_batch;
    }
    model.last_accuracy = std::numeric_limits<double>::quiet_NaN();
    batch.to(device);  // the loader's batches are made on the host
    if (s.labelled_loader) labelled_batch.to(device);
    Tensor loss = model.loss(batch, context);
    if (std::isfinite(model.last_accuracy)) accuracy_sum += model.last_accuracy, ++accuracy_steps;
    const double value = loss.item();
    SSL_CHECK(std::isfinite(value), "pretrain: the loss became ", value, " at epoch ", epoch + 1, ", step ",
              done + 1, " (lr ", optimizer.lr, "); try a lower --lr");
    optimizer.zero_grad();
    loss.backward();   // compute gradients ...
    optimizer.step();  // ... then apply them (a data-parallel all-reduce would sit between the two)
    loss_sum += value;
    images += batch.size();  // dataset images, however many views or rotations of each the method makes
    ++done;
    ++step;
    progress.update(done, loss_sum / double(done), batch.size());
  }
  progress.finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {
      epoch + 1,
      loss_sum / double(std::max<int64_t>(1, done)),
      images / seconds,
      seconds,
      optimizer.lr,
      accuracy_steps > 0 ? accuracy_sum / double(accuracy_steps) : std::numeric_limits<double>::quiet_NaN()};
}

// After an epoch: the encoder, and the heads that are a method's result, as they stand.
void write_epoch_outputs(const PretrainOptions& o, const PretextMethod& model, int64_t epoch) {
  // image_size is the encoder's own input side: --image-size for most methods, the patch side for "patch".
  const std::string epoch_str = std::to_string(epoch), size_str = std::to_string(model.encoder->image_size);
  nn::save_module(o.out_dir + "/encoder.safetensors", *model.encoder,
                  {{"model", o.model}, {"image_size", size_str}, {"method", o.method}, {"epoch", epoch_str}});
  // SimCLR's joint probe is kept beside the encoder, for evaluating it on other splits.
  if (const auto* simclr = dynamic_cast<const SimCLR*>(&model); simclr && simclr->probe) {
    nn::save_module(o.out_dir + "/probe.safetensors", *simclr->probe,
                    {{"classes", std::to_string(simclr->options.probe_classes)}, {"data", o.joint_probe}});
  }
  // Supervised methods also keep their classifier (encoder + head): its accuracy is their result.
  if (const auto* classifier = dynamic_cast<const SupervisedClassifier*>(&model)) {
    nn::save_module(o.out_dir + "/classifier.safetensors", *classifier,
                    {{"model", o.model},
                     {"image_size", size_str},
                     {"classes", std::to_string(classifier->head->weight.size(0))},
                     {"method", o.method},
                     {"epoch", epoch_str}});
  }
}

}  // namespace

std::vector<EpochMetrics> pretrain(const PretrainOptions& given) {
  PretrainOptions o = given;
  o.init_fingerprint = encoder_fingerprint(o.init);
  // The command line's ranges, for callers of the library too (a step count of epochs × steps must fit).
  SSL_CHECK(o.epochs >= 1 && o.epochs <= kMaxEpochs && o.batch_size >= 2 && o.warmup_epochs >= 0 &&
                o.warmup_epochs <= kMaxEpochs && o.max_steps_per_epoch >= 0,
            "pretrain: need epochs and warmup_epochs at most ", kMaxEpochs,
            ", epochs >= 1, batch size >= 2, warmup_epochs >= 0 and max_steps_per_epoch >= 0; got ", o.epochs,
            ", ", o.batch_size, ", ", o.warmup_epochs, " and ", o.max_steps_per_epoch);
  const Device device = Device::parse_present(o.device);  // before anything is written
  const std::string checkpoint_path = o.out_dir + "/" + kCheckpointFile;
  nlohmann::json saved_config;  // on resume, for the data check once the data is open
  int64_t saved_epochs = 0;     // on resume, the epochs the run was planned for
  if (o.resume) {
    const nn::TrainState state = read_state_to_resume(checkpoint_path, nn::kTrainStateFormat, o.epochs);
    PretrainOptions saved = saved_options(state, checkpoint_path, pretrain_options_from_json);
    if (same_starting_encoder({saved.init, saved.init_fingerprint}, {o.init, o.init_fingerprint}))
      saved.init = o.init;
    saved_config = nlohmann::json::parse(state.config_json);
    check_init_unchanged(checkpoint_path, {saved.init, saved.init_fingerprint}, {o.init, o.init_fingerprint});
    check_resume_options(saved, o, checkpoint_path);
    o.threads = threads_to_resume_with(o.threads, saved.threads, checkpoint_path, o.show_progress);
    saved_epochs = saved.epochs;
  }
  const kernels::ComputeThreads threads(o.threads);
  o.threads = threads.count();
  manual_seed(o.seed);
  PretrainSetup setup = open_pretrain_setup(o, device, recorded_steps_per_epoch(saved_config));
  const nlohmann::json data_counts = counts_of(setup);
  if (o.resume) check_same_data(saved_config, data_counts, checkpoint_path);
  // The schedule is a function of the step and the run's length: a longer run lays it out again.
  if (o.resume && saved_epochs != o.epochs && o.schedule != "constant" && o.show_progress)
    std::printf(
        "pretrain: the run was planned for %lld epochs; its %s learning-rate schedule now spans %lld, "
        "from the step it stopped at (the rate jumps there: this is not the run --epochs %lld from the "
        "start would have made)\n",
        (long long)saved_epochs, o.schedule.c_str(), (long long)o.epochs, (long long)o.epochs);
  nlohmann::json config = pretrain_options_json(o);
  config["data_counts"] = data_counts;
  PretextMethod& model = *setup.method.model;
  model.to(device);  // before the optimizer, whose state is made beside each parameter
  model.train();
  auto optimizer = make_optimizer(o, model.parameters());
  const nn::LrSchedule schedule = make_schedule(o, setup.steps_per_epoch);
  std::vector<EpochMetrics> metrics;
  int64_t step = 0, first_epoch = 0;
  // Made and locked once the data, the model and the optimizer are known good: a mistyped path or a bad
  // option leaves no run directory behind. Under the lock, a resume reads the state no other process moves
  // on.
  nn::make_directories(o.out_dir);
  const RunDirectoryLock lock("pretrain", o.out_dir);
  if (!o.resume) {
    check_no_run_to_overwrite("pretrain", checkpoint_path);
  } else {
    const nn::TrainState saved = nn::load_train_state(checkpoint_path, model, *optimizer);
    first_epoch = saved.epoch;
    step = saved.global_step;
    metrics = metrics_from_json(nlohmann::json::parse(saved.metrics_json), checkpoint_path);
    continue_after(saved, metrics.size(), checkpoint_path);
  }
  // Nothing was written before this line: a resume that failed left the run's files as they were.
  nn::write_file_atomically(o.out_dir + "/config.json", config.dump(2) + "\n");

  for (int64_t epoch = first_epoch; epoch < o.epochs; ++epoch) {
    metrics.push_back(train_epoch(o, setup, *optimizer, schedule, epoch, step, device));
    check_state_finite("pretrain", model, {{"", optimizer.get()}}, epoch + 1);
    write_metrics_files(o.out_dir, metrics_json(metrics), metrics_csv(metrics));
    write_epoch_outputs(o, model, epoch + 1);
    // Last, so that a crash before it resumes from the previous epoch and redoes this one.
    nn::save_train_state(checkpoint_path, model, *optimizer,
                         state_after_epoch(epoch + 1, step, config, metrics_json(metrics)));
    if (o.stop_after_epochs > 0 && epoch + 1 >= o.stop_after_epochs) break;
  }
  return metrics;
}

void pretrain_or_continue(PretrainOptions p) {
  const std::string checkpoint = p.out_dir + "/" + kCheckpointFile;
  p.init_fingerprint = encoder_fingerprint(p.init);
  if (std::filesystem::exists(checkpoint)) {
    const nn::TrainState state = nn::read_train_state(checkpoint);
    PretrainOptions saved = saved_options(state, checkpoint, pretrain_options_from_json);
    if (same_starting_encoder({saved.init, saved.init_fingerprint}, {p.init, p.init_fingerprint}))
      saved.init = p.init;
    if (!discard_if_init_changed(p.method, p.out_dir, {saved.init, saved.init_fingerprint},
                                 {p.init, p.init_fingerprint}, p.show_progress)) {
      check_resume_options(saved, p, checkpoint);
      check_same_plan(p.method, p.out_dir, saved.epochs, state.epoch, p.epochs);
      if (state.epoch >= p.epochs) {
        // Kept only for the data it was trained on, as a resume is continued only on it.
        const nlohmann::json saved_config = nlohmann::json::parse(state.config_json);
        check_same_data(
            saved_config,
            counts_of(open_pretrain_setup(p, Device::cpu(), recorded_steps_per_epoch(saved_config))),
            checkpoint);
        check_kept_encoder(p.out_dir, p.method, state.epoch);
        if (p.show_progress)
          std::printf("\n== %s: kept the finished run in %s (%lld epochs)\n", p.method.c_str(),
                      p.out_dir.c_str(), (long long)state.epoch);
        return;
      }
      p.resume = true;
    }
  }
  if (p.show_progress)
    std::printf("\n== %s: %s on %s -> %s\n", p.method.c_str(), p.model.c_str(), p.data.c_str(),
                p.out_dir.c_str());
  pretrain(p);
}

}  // namespace ssl
