// Exact resume of `pretrain`: a run stopped after epoch 2 and resumed for epoch 3 reproduces the
// uninterrupted run's losses and weights bit for bit (CPU, same thread count), for every method, and bad
// checkpoints or conflicting options are refused with clear errors. (SGAN's resume: test_sgan.cpp.)
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "data/image_grid.h"
#include "data/synthetic.h"
#include "kernels/compute_threads.h"
#include "nn/checkpoint.h"
#include "nn/layers.h"
#include "nn/optim.h"
#include "nn/train_state.h"
#include "ssl/pretrain.h"
#include "ssl/resume_check.h"
#include "support/same_tensors.h"
#include "support/temp_dir.h"

using namespace ssl;
namespace fs = std::filesystem;
using ssl::test::check_same_tensors;

namespace {

// Each test case's runs go under this process's scratch directory, removed when the test case ends.
const char* const kScratch = "ssl_test_resume";
const fs::path kRoot = test::TempDir::path_for(kScratch);

PretrainOptions tiny_run(const std::string& name, int64_t epochs) {
  PretrainOptions p;
  p.data = "synthetic:train:64";
  p.out_dir = (kRoot / name).string();
  p.epochs = epochs;
  p.batch_size = 16;
  p.workers = 2;
  p.max_steps_per_epoch = 2;
  p.show_progress = false;
  // The schedule is laid out over `epochs`, so a 2-epoch cosine run is not the first two epochs of a
  // 3-epoch one; with a constant rate (after the same 2-step warm-up) it is, which is what this test needs
  // to stand in for a 3-epoch run killed after epoch 2.
  p.schedule = "constant";
  return p;
}

// The epochs a resume restored are the checkpoint's records, not epochs trained again: a retrained epoch
// would be timed anew, and its seconds would not be the killed run's to the bit (the losses would be).
void check_restored(const std::vector<EpochMetrics>& resumed, const std::vector<EpochMetrics>& killed) {
  REQUIRE(resumed.size() > killed.size());
  for (size_t i = 0; i < killed.size(); ++i)
    CHECK_MESSAGE(resumed[i].seconds == killed[i].seconds, "epoch ", i + 1, " was trained again");
}

}  // namespace

TEST_CASE("the step schedule falls tenfold after a third and two thirds of the steps after warm-up") {
  // 3 epochs of 3 steps, the first epoch warming up: the 6 steps after it decay at their 3rd and 5th.
  const test::TempDir scratch(kScratch);
  PretrainOptions o = tiny_run("step_schedule", 3);
  o.schedule = "step";
  o.warmup_epochs = 1;
  o.max_steps_per_epoch = 3;
  const std::vector<EpochMetrics> m = pretrain(o);
  REQUIRE(m.size() == 3);
  // Each epoch's record holds the rate of its last step.
  CHECK(m[0].lr == doctest::Approx(o.lr));
  CHECK(m[1].lr == doctest::Approx(o.lr * 0.1));
  CHECK(m[2].lr == doctest::Approx(o.lr * 0.01));
}

TEST_CASE("a run resumed after epoch 2 equals the uninterrupted run exactly") {
  const test::TempDir scratch(kScratch);
  const PretrainOptions straight_opts = tiny_run("straight", 3);
  const std::vector<EpochMetrics> straight = pretrain(straight_opts);
  REQUIRE(straight.size() == 3);

  PretrainOptions killed = tiny_run("resumed", 2);
  const std::vector<EpochMetrics> before_kill = pretrain(killed);
  const std::string ckpt = killed.out_dir + "/checkpoint.safetensors";
  const nn::TrainState after_two = nn::read_train_state(ckpt);
  CHECK(after_two.epoch == 2);
  CHECK(after_two.global_step == 4);

  PretrainOptions resumed_opts = tiny_run("resumed", 3);
  resumed_opts.resume = true;
  resumed_opts.workers = 1;  // the loader's batches do not depend on the number of workers
  const std::vector<EpochMetrics> resumed = pretrain(resumed_opts);
  REQUIRE(resumed.size() == 3);
  check_restored(resumed, before_kill);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(resumed[i].epoch == int64_t(i + 1));
    CHECK_MESSAGE(resumed[i].loss == straight[i].loss, "epoch ", i + 1);  // exact, not approximate
    CHECK(resumed[i].lr == straight[i].lr);
  }
  check_same_tensors(straight_opts.out_dir + "/encoder.safetensors", killed.out_dir + "/encoder.safetensors");
  // The projection head and the optimizer's moments too.
  check_same_tensors(straight_opts.out_dir + "/checkpoint.safetensors", ckpt, "model.head.");
  check_same_tensors(straight_opts.out_dir + "/checkpoint.safetensors", ckpt, "optimizer.");
  const nn::TrainState final_state = nn::read_train_state(ckpt);
  CHECK(final_state.epoch == 3);
  CHECK(final_state.global_step == 6);
  CHECK(final_state.rng_streams_used ==
        nn::read_train_state(straight_opts.out_dir + "/checkpoint.safetensors").rng_streams_used);

  // The metrics files hold all three epochs, the restored ones included.
  std::ifstream jsonl(killed.out_dir + "/metrics.jsonl");
  int lines = 0;
  for (std::string line; std::getline(jsonl, line);) ++lines;
  CHECK(lines == 3);

  // The saved options come back, with the new epoch count.
  const PretrainOptions back = resume_options(killed.out_dir);
  CHECK(back.resume);
  CHECK(back.epochs == 3);
  CHECK(back.schedule == "constant");
  CHECK(back.max_steps_per_epoch == 2);

  // Nothing left to do at 3 epochs; other options must match the saved run.
  CHECK_THROWS_WITH_AS(pretrain(resumed_opts), doctest::Contains("already completed 3 epochs"), ssl::Error);
  PretrainOptions conflict = tiny_run("resumed", 4);
  conflict.resume = true;
  conflict.lr = 0.5;
  CHECK_THROWS_WITH_AS(pretrain(conflict), doctest::Contains("lr: saved 0.001, requested 0.5"), ssl::Error);
}

TEST_CASE("a cosine run killed after epoch 2 and resumed equals the uninterrupted run exactly") {
  const test::TempDir scratch(kScratch);
  // The real case: the default cosine schedule over 3 epochs, stopped as a kill after epoch 2 would stop it.
  PretrainOptions straight_opts = tiny_run("cosine_straight", 3);
  straight_opts.schedule = "cosine";
  const std::vector<EpochMetrics> straight = pretrain(straight_opts);

  PretrainOptions killed = tiny_run("cosine_resumed", 3);
  killed.schedule = "cosine";
  killed.stop_after_epochs = 2;
  const std::vector<EpochMetrics> before_kill = pretrain(killed);
  REQUIRE(before_kill.size() == 2);
  killed.stop_after_epochs = 0;
  killed.resume = true;
  const std::vector<EpochMetrics> resumed = pretrain(killed);
  REQUIRE(resumed.size() == 3);
  REQUIRE(straight.size() == 3);
  check_restored(resumed, before_kill);
  for (size_t i = 0; i < 3; ++i) {
    CHECK_MESSAGE(resumed[i].loss == straight[i].loss, "epoch ", i + 1);
    CHECK(resumed[i].lr == straight[i].lr);
  }
  check_same_tensors(straight_opts.out_dir + "/encoder.safetensors", killed.out_dir + "/encoder.safetensors");
}

TEST_CASE("a fine-tuning run whose starting encoder has changed is trained again, not kept or resumed") {
  const test::TempDir scratch(kScratch);
  PretrainOptions init = tiny_run("changing_init", 1);
  pretrain(init);
  const std::string encoder_file = init.out_dir + "/encoder.safetensors";
  PretrainOptions f = tiny_run("finetune_of_changing_init", 1);
  f.method = "finetune";
  f.init = init.out_dir;
  f.show_progress = false;
  const auto recorded = [&] {
    std::ifstream in(f.out_dir + "/config.json");
    return nlohmann::json::parse(in).at("init_fingerprint").get<std::string>();
  };
  const std::string classifier = f.out_dir + "/classifier.safetensors";

  pretrain_or_continue(f);
  CHECK(recorded() == nn::file_fingerprint(encoder_file));
  const std::string first = nn::file_fingerprint(classifier);
  pretrain_or_continue(f);  // nothing changed: the finished run is kept
  CHECK(nn::file_fingerprint(classifier) == first);
  // The same encoder under another spelling of its path, or a copy of it (a study's directory moved or
  // copied): the same run, kept, not refused as another starting encoder.
  for (const std::string& same : {init.out_dir + "/", init.out_dir + "_copy"}) {
    if (same.ends_with("_copy")) fs::copy(init.out_dir, same, fs::copy_options::recursive);
    PretrainOptions respelled = f;
    respelled.init = same;
    pretrain_or_continue(respelled);
    CHECK(nn::file_fingerprint(classifier) == first);
  }
  // A run planned for another number of epochs is neither kept nor stretched: refused, left as it was.
  for (const int64_t epochs : {2, 3}) {
    PretrainOptions other = f;
    other.epochs = epochs;
    const std::string expected =
        str_cat("planned for epochs = 1 (1 done) but this one asks for epochs = ", epochs);
    CHECK_THROWS_WITH_AS(pretrain_or_continue(other), doctest::Contains(expected.c_str()), ssl::Error);
  }
  CHECK(nn::file_fingerprint(classifier) == first);

  init.epochs = 2;  // the encoder trains on, so its file changes
  init.resume = true;
  pretrain(init);
  pretrain_or_continue(f);  // trained again from the new encoder
  CHECK(recorded() == nn::file_fingerprint(encoder_file));
  CHECK(nn::file_fingerprint(classifier) != first);

  // Resuming it explicitly after the encoder changed again is refused, naming the encoder.
  init.epochs = 3;
  pretrain(init);
  f.epochs = 2;
  f.resume = true;
  CHECK_THROWS_WITH_AS(pretrain(f), doctest::Contains("has changed since this run started from it"),
                       ssl::Error);
  // The same directory under another spelling is that encoder, changed: not "another encoder".
  PretrainOptions respelled = f;
  respelled.init = init.out_dir + "/.";
  CHECK_THROWS_WITH_AS(pretrain(respelled), doctest::Contains("has changed since this run started from it"),
                       ssl::Error);
  // Another encoder altogether is an option that differs, named as such; the run is kept, not trained again.
  PretrainOptions elsewhere = f;
  elsewhere.resume = false;
  elsewhere.init = init.out_dir + "_elsewhere";
  CHECK_THROWS_WITH_AS(pretrain_or_continue(elsewhere), doctest::Contains("\n  init: saved \""), ssl::Error);
  CHECK(fs::exists(classifier));
  // And when the encoder is gone, the refusal says so.
  fs::remove(encoder_file);
  CHECK_THROWS_WITH_AS(pretrain(f), doctest::Contains("which is missing now"), ssl::Error);
  // As does ssl compare's path, which keeps the run instead of removing it to train again.
  f.resume = false;
  CHECK_THROWS_WITH_AS(pretrain_or_continue(f), doctest::Contains("which is missing now"), ssl::Error);
  CHECK(fs::exists(classifier));
}

TEST_CASE("a resumed run keeps the compute thread count it recorded, whatever the process's count") {
  const test::TempDir scratch(kScratch);
  const int process_threads = 2;
  const kernels::ComputeThreads process(process_threads);
  PretrainOptions straight = tiny_run("one_thread_straight", 3);
  straight.method = "rotation";
  straight.threads = 1;
  const std::vector<EpochMetrics> expected = pretrain(straight);
  CHECK(omp_get_max_threads() == process_threads);  // put back after the run

  PretrainOptions killed = straight;
  killed.out_dir = (kRoot / "one_thread_resumed").string();
  killed.stop_after_epochs = 2;
  const std::vector<EpochMetrics> before_kill = pretrain(killed);
  std::ifstream config(killed.out_dir + "/config.json");
  CHECK(nlohmann::json::parse(config).at("threads") == 1);
  killed.stop_after_epochs = 0;
  killed.resume = true;
  killed.threads = 0;  // not given: the run's own count, not the process's 2
  const std::vector<EpochMetrics> resumed = pretrain(killed);
  REQUIRE(resumed.size() == 3);
  check_restored(resumed, before_kill);
  for (size_t i = 0; i < 3; ++i) CHECK_MESSAGE(resumed[i].loss == expected[i].loss, "epoch ", i + 1);
  check_same_tensors(straight.out_dir + "/encoder.safetensors", killed.out_dir + "/encoder.safetensors");
}

TEST_CASE("a run whose data has changed since it started is refused on resume or kept, naming what changed") {
  const test::TempDir scratch(kScratch);
  const std::string folder = (kRoot / "images").string();
  const data::SyntheticDataset source(data::Split::train, 40);
  for (int64_t i = 0; i < source.size(); ++i) {
    fs::create_directories(folder + "/" + std::to_string(source.label(i) % 2));
    data::write_png(folder + "/" + std::to_string(source.label(i) % 2) + "/" + std::to_string(i) + ".png",
                    source.image(i));
  }
  PretrainOptions o = tiny_run("changing_data", 2);
  o.data = "folder:" + folder;
  o.max_steps_per_epoch = 0;
  o.stop_after_epochs = 1;
  pretrain(o);
  const std::string checkpoint = o.out_dir + "/checkpoint.safetensors";
  const std::string saved = nn::file_fingerprint(checkpoint);
  for (int64_t i = 0; i < 8; ++i)
    fs::remove(folder + "/" + std::to_string(source.label(i) % 2) + "/" + std::to_string(i) + ".png");
  o.stop_after_epochs = 0;
  o.resume = true;
  CHECK_THROWS_WITH_AS(
      pretrain(o),
      doctest::Contains("the run's data has changed since it started:\n  images: 40 when the "
                        "run started, 32 now\ngive it the data it started with"),
      ssl::Error);
  CHECK(nn::file_fingerprint(checkpoint) == saved);
  // A finished run is not kept as a run on the data now (ssl compare run again in its directory).
  o.resume = false;
  o.epochs = 1;
  PretrainOptions finished = o;
  finished.out_dir = (kRoot / "finished_on_changed_data").string();
  finished.stop_after_epochs = 0;
  pretrain(finished);
  const std::string finished_checkpoint = finished.out_dir + "/checkpoint.safetensors";
  const std::string finished_saved = nn::file_fingerprint(finished_checkpoint);
  pretrain_or_continue(finished);  // the same data: kept
  CHECK(nn::file_fingerprint(finished_checkpoint) == finished_saved);
  fs::remove(folder + "/" + std::to_string(source.label(8) % 2) + "/8.png");
  CHECK_THROWS_WITH_AS(
      pretrain_or_continue(finished),
      doctest::Contains("the run's data has changed since it started:\n  images: 32 when the "
                        "run started, 31 now"),
      ssl::Error);
  CHECK(nn::file_fingerprint(finished_checkpoint) == finished_saved);
}

TEST_CASE("a run started when a last batch of one image was still trained on resumes with that batch") {
  // 17 images in batches of 16: a run starts with one step an epoch (the lone image is dropped). Its
  // checkpoint is then made to read as one saved before that rule, with two steps an epoch.
  const test::TempDir scratch(kScratch);
  PretrainOptions o = tiny_run("lone_image", 2);
  o.method = "supervised";
  o.data = "synthetic:train:17";
  o.max_steps_per_epoch = 0;
  o.stop_after_epochs = 1;
  pretrain(o);
  const std::string checkpoint = o.out_dir + "/checkpoint.safetensors";
  nn::Metadata meta;
  const auto tensors = nn::load_safetensors(checkpoint, &meta);
  auto config = nlohmann::json::parse(meta.at("config"));
  CHECK(config.at("data_counts").at("steps_per_epoch") == 1);
  config["data_counts"]["steps_per_epoch"] = 2;
  meta["config"] = config.dump();
  nn::save_safetensors(checkpoint, {tensors.begin(), tensors.end()}, meta);

  o.stop_after_epochs = 0;
  o.resume = true;
  REQUIRE(pretrain(o).size() == 2);
  std::ifstream saved(o.out_dir + "/config.json");
  CHECK(nlohmann::json::parse(saved).at("data_counts").at("steps_per_epoch") == 2);
}

TEST_CASE("a run that cannot start writes nothing: no run directory for a mistyped path, model or option") {
  const test::TempDir scratch(kScratch);
  PretrainOptions missing = tiny_run("missing_data", 1);
  missing.data = "folder:" + (kRoot / "no_such_folder").string();
  CHECK_THROWS_AS(pretrain(missing), ssl::Error);
  CHECK_FALSE(fs::exists(missing.out_dir));
  PretrainOptions model = tiny_run("unknown_model", 1);
  model.model = "convnet3";
  CHECK_THROWS_WITH_AS(pretrain(model), doctest::Contains("unknown model 'convnet3'"), ssl::Error);
  CHECK_FALSE(fs::exists(model.out_dir));
  PretrainOptions lr = tiny_run("negative_lr", 1);
  lr.lr = -0.01;
  CHECK_THROWS_WITH_AS(pretrain(lr), doctest::Contains("got lr -0.01"), ssl::Error);
  CHECK_FALSE(fs::exists(lr.out_dir));
  PretrainOptions schedule = tiny_run("unknown_schedule", 1);
  schedule.schedule = "linear";
  CHECK_THROWS_WITH_AS(pretrain(schedule), doctest::Contains("unknown learning-rate schedule 'linear'"),
                       ssl::Error);
  CHECK_FALSE(fs::exists(schedule.out_dir));
  // Method options are checked when the method is built, not at its first batch.
  PretrainOptions temperature = tiny_run("zero_temperature", 1);
  temperature.simclr.temperature = 0;
  CHECK_THROWS_WITH_AS(pretrain(temperature), doctest::Contains("temperature must be > 0 and finite, got 0"),
                       ssl::Error);
  CHECK_FALSE(fs::exists(temperature.out_dir));
  PretrainOptions hole = tiny_run("hole_too_large", 1);
  hole.method = "context";
  hole.context.mask.hole_fraction = 1.5;
  CHECK_THROWS_WITH_AS(pretrain(hole), doctest::Contains("hole_fraction must be in (0, 1], got 1.5"),
                       ssl::Error);
  CHECK_FALSE(fs::exists(hole.out_dir));
  // A mask the image cannot hold (an overlap band as wide as half the hole) is drawn once when the method
  // is built.
  PretrainOptions overlap = tiny_run("overlap_too_wide", 1);
  overlap.method = "context";
  overlap.context.mask.overlap = 100;
  CHECK_THROWS_WITH_AS(pretrain(overlap), doctest::Contains("leaves nothing hidden"), ssl::Error);
  CHECK_FALSE(fs::exists(overlap.out_dir));
  // Supervised training needs every label; an unlabelled split is refused before the directory is made.
  PretrainOptions unlabelled = tiny_run("supervised_unlabelled", 1);
  unlabelled.method = "supervised";
  unlabelled.data = "synthetic:train:64@2,rest";
  CHECK_THROWS_WITH_AS(pretrain(unlabelled), doctest::Contains("is unlabelled"), ssl::Error);
  CHECK_FALSE(fs::exists(unlabelled.out_dir));
  PretrainOptions probe = tiny_run("joint_probe_unlabelled", 1);
  probe.joint_probe = "synthetic:train:64@2,rest";
  CHECK_THROWS_WITH_AS(pretrain(probe), doctest::Contains("of the --joint-probe data"), ssl::Error);
  CHECK_FALSE(fs::exists(probe.out_dir));
  // --init is finetune's start; any other method would ignore it, yet record it.
  PretrainOptions init = tiny_run("rotation_with_init", 1);
  init.method = "rotation";
  init.init = (kRoot / "some_run").string();
  CHECK_THROWS_WITH_AS(pretrain(init), doctest::Contains("--init is the start of --method finetune"),
                       ssl::Error);
  CHECK_FALSE(fs::exists(init.out_dir));
}

TEST_CASE("a run is never overwritten by accident, by a new run or by a resume that fails") {
  const test::TempDir scratch(kScratch);
  PretrainOptions p = tiny_run("kept", 1);
  pretrain(p);
  const std::string ckpt = p.out_dir + "/checkpoint.safetensors", config = p.out_dir + "/config.json";
  const std::string fingerprint = nn::file_fingerprint(ckpt),
                    config_fingerprint = nn::file_fingerprint(config);
  // A new run (no --resume) into the same directory.
  PretrainOptions again = p;
  again.method = "rotation";
  CHECK_THROWS_WITH_AS(pretrain(again), doctest::Contains("holds a run already; continue it with --resume"),
                       ssl::Error);
  CHECK(nn::file_fingerprint(ckpt) == fingerprint);
  // A resume refused when the state is restored (its checkpoint damaged past the header) leaves config.json
  // as it was.
  fs::copy(p.out_dir, p.out_dir + "_damaged", fs::copy_options::recursive);
  const std::string damaged = p.out_dir + "_damaged/checkpoint.safetensors";
  std::string bytes;
  {
    std::ifstream in(damaged, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  bytes[bytes.size() - 5] = char(bytes[bytes.size() - 5] ^ 1);
  std::ofstream(damaged, std::ios::binary | std::ios::trunc) << bytes;
  PretrainOptions resume = p;
  resume.out_dir = p.out_dir + "_damaged";
  resume.epochs = 3;
  resume.resume = true;
  CHECK_THROWS_WITH_AS(pretrain(resume), doctest::Contains("do not match the digest"), ssl::Error);
  CHECK(nn::file_fingerprint(resume.out_dir + "/config.json") == config_fingerprint);
}

TEST_CASE("a run directory another process is training in is refused, by a new run and by a resume") {
  const test::TempDir scratch(kScratch);
  PretrainOptions p = tiny_run("locked", 1);
  fs::create_directories(p.out_dir);
  {
    // Another process's lock, as far as flock(2) can tell: a lock through another open of the directory.
    const RunDirectoryLock other("pretrain", p.out_dir);
    const std::string refused = "another process is training in " + p.out_dir;
    CHECK_THROWS_WITH_AS(pretrain(p), doctest::Contains(refused.c_str()), ssl::Error);
    CHECK(fs::is_empty(p.out_dir));  // nothing written
  }
  pretrain(p);  // the lock was released with its holder
  PretrainOptions resume = p;
  resume.epochs = 2;
  resume.resume = true;
  const std::string fingerprint = nn::file_fingerprint(p.out_dir + "/checkpoint.safetensors");
  {
    const RunDirectoryLock other("pretrain", p.out_dir);
    CHECK_THROWS_WITH_AS(pretrain(resume), doctest::Contains("it holds the directory's lock"), ssl::Error);
  }
  CHECK(nn::file_fingerprint(p.out_dir + "/checkpoint.safetensors") == fingerprint);
  CHECK(pretrain(resume).size() == 2);
}

TEST_CASE("a run whose weights blow up is stopped before they are saved") {
  const test::TempDir scratch(kScratch);
  // One step at an absurd rate: the loss before the step is finite, the weights after it are not.
  PretrainOptions p = tiny_run("diverged", 1);
  p.max_steps_per_epoch = 1;
  p.warmup_epochs = 0;
  p.lr = 1e39;
  CHECK_THROWS_WITH_AS(pretrain(p), doctest::Contains("after epoch 1 '"), ssl::Error);
  CHECK_FALSE(fs::exists(p.out_dir + "/checkpoint.safetensors"));
  CHECK_FALSE(fs::exists(p.out_dir + "/encoder.safetensors"));
}

TEST_CASE("an epoch's end finds a non-finite buffer or optimizer state, naming it and the optimizer") {
  nn::BatchNorm bn(3);
  nn::Adam adam(bn.parameters(), 0.01);
  CHECK_NOTHROW(check_state_finite("sgan", bn, {{"generator", &adam}}, 1));
  // The weights finite, a running statistic not: a checkpoint of it could never be resumed.
  bn.running_var.fill_(INFINITY);
  CHECK_THROWS_WITH_AS(check_state_finite("sgan", bn, {{"generator", &adam}}, 2),
                       doctest::Contains("after epoch 2 'running_var' holds inf"), ssl::Error);
  bn.running_var.fill_(1);
  for (Tensor& p : bn.parameters()) p.set_grad(Tensor::full(p.shape(), 1e30f, p.dtype()));
  adam.step();  // (1e30)² overflows the second moments; the weights move by lr and stay finite
  CHECK_THROWS_WITH_AS(
      check_state_finite("sgan", bn, {{"generator", &adam}}, 3),
      doctest::Contains("the generator optimizer's state.0.exp_avg_sq holds a NaN or an infinity"),
      ssl::Error);
}

TEST_CASE("resuming from a truncated checkpoint names the file and the tensor") {
  const test::TempDir scratch(kScratch);
  PretrainOptions p = tiny_run("truncated", 1);
  pretrain(p);
  const std::string ckpt = p.out_dir + "/checkpoint.safetensors";
  std::string bytes;
  {
    std::ifstream in(ckpt, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::ofstream(ckpt, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() - 64);
  p.epochs = 2;
  p.resume = true;
  CHECK_THROWS_WITH_AS(pretrain(p), doctest::Contains("checkpoint.safetensors: tensor 'optimizer.state."),
                       ssl::Error);
  CHECK_THROWS_WITH_AS(pretrain(p), doctest::Contains("truncated file?"), ssl::Error);

  PretrainOptions none = tiny_run("never_run", 2);
  none.resume = true;
  CHECK_THROWS_WITH_AS(pretrain(none), doctest::Contains("no checkpoint"), ssl::Error);
}

TEST_CASE(
    "every method resumes exactly after a kill: its heads, extra networks and optimizer state included") {
  const test::TempDir scratch(kScratch);
  PretrainOptions init = tiny_run("init", 1);  // a SimCLR encoder for finetune to start from
  pretrain(init);
  for (const std::string variant :
       {"rotation", "context", "patch", "supervised", "finetune", "simclr_joint_probe"}) {
    CAPTURE(variant);
    const auto run = [&](const std::string& name) {
      PretrainOptions p = tiny_run(variant + "_" + name, 3);
      p.schedule = "cosine";
      p.method = variant == "simclr_joint_probe" ? "simclr" : variant;
      if (variant == "finetune") p.init = init.out_dir;
      if (variant == "simclr_joint_probe") p.joint_probe = "synthetic:train:64@2";
      if (variant == "context") p.context.adversarial_weight = 0.001;  // the discriminator is state too
      return p;
    };
    const PretrainOptions straight_opts = run("straight");
    const std::vector<EpochMetrics> straight = pretrain(straight_opts);
    PretrainOptions killed = run("resumed");
    killed.stop_after_epochs = 2;
    const std::vector<EpochMetrics> before_kill = pretrain(killed);
    REQUIRE(before_kill.size() == 2);
    killed.stop_after_epochs = 0;
    killed.resume = true;
    const std::vector<EpochMetrics> resumed = pretrain(killed);
    REQUIRE(straight.size() == 3);
    REQUIRE(resumed.size() == 3);
    check_restored(resumed, before_kill);
    for (size_t i = 0; i < 3; ++i) {
      CHECK_MESSAGE(resumed[i].loss == straight[i].loss, "epoch ", i + 1);
      CHECK(std::isfinite(resumed[i].loss));
      // Methods that classify log their training accuracy (NaN for the others).
      CHECK(std::isfinite(resumed[i].train_top1) == std::isfinite(straight[i].train_top1));
      if (std::isfinite(straight[i].train_top1)) CHECK(resumed[i].train_top1 == straight[i].train_top1);
    }
    // The whole model (encoder, heads, decoder, discriminator, joint probe) and the optimizer's state.
    const std::string a = straight_opts.out_dir + "/checkpoint.safetensors";
    const std::string b = killed.out_dir + "/checkpoint.safetensors";
    check_same_tensors(a, b, "model.");
    check_same_tensors(a, b, "optimizer.");
  }
}
