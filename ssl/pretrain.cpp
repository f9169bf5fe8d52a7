#include "ssl/pretrain.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "data/registry.h"
#include "data/transforms.h"
#include "nn/checkpoint.h"
#include "nn/optim.h"
#include "nn/schedule.h"
#include "ssl/features.h"
#include "ssl/progress.h"

namespace ssl {

namespace {

nlohmann::json options_json(const PretrainOptions& o) {
  return {{"method", o.method},
          {"model", o.model},
          {"data", o.data},
          {"epochs", o.epochs},
          {"batch_size", o.batch_size},
          {"image_size", o.image_size},
          {"optimizer", o.optimizer},
          {"lr", o.lr},
          {"schedule", o.schedule},
          {"weight_decay", o.weight_decay},
          {"warmup_epochs", o.warmup_epochs},
          {"seed", o.seed},
          {"workers", o.workers},
          {"temperature", o.simclr.temperature},
          {"head_hidden", o.simclr.head_hidden},
          {"head_out", o.simclr.head_out},
          {"cross_view_only", o.simclr.cross_view_only}};
}

void write_metrics(const std::string& dir, const std::vector<EpochMetrics>& metrics) {
  std::string jsonl, csv = "epoch,loss,images_per_s,seconds,lr\n";
  for (const EpochMetrics& m : metrics) {
    jsonl += nlohmann::json{{"epoch", m.epoch},
                            {"loss", m.loss},
                            {"images_per_s", m.images_per_s},
                            {"seconds", m.seconds},
                            {"lr", m.lr}}
                 .dump() +
             "\n";
    csv += str_cat(m.epoch, ",", m.loss, ",", m.images_per_s, ",", m.seconds, ",", m.lr, "\n");
  }
  nn::write_file_atomically(dir + "/metrics.jsonl", jsonl);
  nn::write_file_atomically(dir + "/metrics.csv", csv);
}

std::unique_ptr<nn::Optimizer> make_optimizer(const PretrainOptions& o, std::vector<Tensor> params) {
  if (o.optimizer == "sgd") return std::make_unique<nn::SGD>(std::move(params), o.lr, 0.9, o.weight_decay);
  if (o.optimizer == "adam")
    return std::make_unique<nn::Adam>(std::move(params), o.lr, 0.9, 0.999, 1e-8, o.weight_decay);
  throw Error(str_cat("pretrain: unknown optimizer '", o.optimizer, "'; expected sgd or adam"));
}

}  // namespace

std::vector<EpochMetrics> pretrain(const PretrainOptions& o) {
  SSL_CHECK(o.method == "simclr", "pretrain: unknown method '", o.method, "'; available: simclr");
  SSL_CHECK(o.epochs >= 1 && o.batch_size >= 2, "pretrain: need epochs >= 1 and batch size >= 2, got ",
            o.epochs, " and ", o.batch_size);
  std::filesystem::create_directories(o.out_dir);
  nn::write_file_atomically(o.out_dir + "/config.json", options_json(o).dump(2) + "\n");

  manual_seed(o.seed);
  const auto dataset = data::open_dataset(o.data);
  const auto augment = data::simclr_augment(o.image_size);
  data::LoaderOptions lo = image_loader_options(o.batch_size, o.seed, o.workers);
  lo.views = 2;
  lo.drop_last = true;  // NT-Xent's positives assume a full batch of pairs
  lo.transform = augment.get();
  data::Loader loader(*dataset, lo);
  SSL_CHECK(loader.batches_per_epoch() > 0, "pretrain: dataset ", dataset->name(),
            " has fewer images than one batch (", o.batch_size, ")");

  SimCLR model(nn::make_encoder(o.model, o.image_size), o.simclr);
  model.train();
  auto optimizer = make_optimizer(o, model.parameters());
  const int64_t steps_per_epoch = o.max_steps_per_epoch > 0
                                      ? std::min(o.max_steps_per_epoch, loader.batches_per_epoch())
                                      : loader.batches_per_epoch();
  nn::LrSchedule schedule;
  schedule.kind = nn::LrSchedule::parse_kind(o.schedule);
  schedule.peak = o.lr;
  schedule.total_steps = steps_per_epoch * o.epochs;
  schedule.warmup_steps = std::min(schedule.total_steps / 2, steps_per_epoch * o.warmup_epochs);
  schedule.step_size =
      std::max<int64_t>(1, schedule.total_steps / 3);  // "step": ×0.1 at 1/3 and 2/3 of the run

  std::vector<EpochMetrics> metrics;
  int64_t step = 0;
  for (int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    loader.start_epoch(epoch);
    Progress progress(str_cat("epoch ", epoch + 1, "/", o.epochs), steps_per_epoch, o.show_progress);
    data::Batch batch;
    double loss_sum = 0;
    int64_t images = 0, done = 0;
    while (done < steps_per_epoch && loader.next(batch)) {
      optimizer->lr = schedule.at(step);
      Tensor loss = model.forward(batch.images);
      const double value = loss.item();
      SSL_CHECK(std::isfinite(value), "pretrain: the loss became ", value, " at epoch ", epoch + 1, ", step ",
                done + 1, " (lr ", optimizer->lr, "); try a lower --lr");
      optimizer->zero_grad();
      loss.backward();    // compute gradients ...
      optimizer->step();  // ... then apply them (a data-parallel all-reduce would sit between the two)
      loss_sum += value;
      images += batch.images.size(0);
      ++done;
      ++step;
      progress.update(done, loss_sum / double(done), batch.images.size(0));
    }
    progress.finish();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    metrics.push_back(
        {epoch + 1, loss_sum / double(std::max<int64_t>(1, done)), images / seconds, seconds, optimizer->lr});
    write_metrics(o.out_dir, metrics);
    nn::save_module(o.out_dir + "/encoder.safetensors", *model.encoder,
                    {{"model", o.model},
                     {"image_size", std::to_string(o.image_size)},
                     {"method", o.method},
                     {"epoch", std::to_string(epoch + 1)}});
  }
  return metrics;
}

}  // namespace ssl
