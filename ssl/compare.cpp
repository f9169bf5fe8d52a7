#include "ssl/compare.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <tuple>

#include "data/class_mapping.h"
#include "data/registry.h"
#include "kernels/compute_threads.h"
#include "nn/checkpoint.h"
#include "nn/models.h"
#include "nn/train_state.h"
#include "ssl/evaluate.h"
#include "ssl/json_file.h"
#include "ssl/method.h"
#include "ssl/pretrain.h"
#include "ssl/relative_patch.h"
#include "ssl/report.h"
#include "ssl/resume_check.h"
#include "ssl/seed_summary.h"
#include "ssl/sgan.h"
#include "ssl/supervised.h"

namespace ssl {

namespace {

bool method_available(const std::string& name) {
  const std::vector<std::string> names = method_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

PretrainOptions pretrain_options(const CompareOptions& c, const std::string& method, const std::string& data,
                                 const std::string& dir) {
  PretrainOptions p;
  p.method = method;
  p.model = c.model;
  p.data = data;
  p.out_dir = dir;
  p.epochs = c.epochs;
  p.batch_size = c.batch_size;
  p.image_size = c.image_size;
  p.seed = c.seed;
  p.workers = c.workers;
  p.threads = c.threads;
  p.device = c.device;
  p.max_steps_per_epoch = c.max_steps_per_epoch;
  p.show_progress = c.show_progress;
  // Given to simclr only, which alone reads it: the other runs' options, and so their runs, stay the same.
  if (method == "simclr") p.simclr.crop_min_scale = c.crop_min_scale;
  return p;
}

// A run's per-epoch records (metrics.jsonl), every value a number (null: a NaN), as the report draws them.
nlohmann::json metrics_of(const std::string& dir) {
  const std::string path = dir + "/metrics.jsonl";
  const nlohmann::json records = read_json_lines(path);
  for (size_t i = 0; i < records.size(); ++i)
    for (const auto& [key, value] : records[i].items())
      SSL_CHECK(value.is_number() || value.is_null(), "compare: ", path, " record ", i + 1, ": '", key,
                "' is ", value.dump(), "; expected a number");
  return records;
}

// A kept run's score of `split` as its results.json (`path`) holds it: Top-1 and Top-5 fractions in [0, 1].
void check_kept_scores(const nlohmann::json& splits, const char* split, const std::string& path) {
  SSL_CHECK(splits.contains(split) && splits[split].is_object(), "compare: ", path, " has no '", split,
            "' scores; remove it and run the study again to score that run");
  for (const char* key : {"top1", "top5"}) {
    const nlohmann::json value = splits[split].value(key, nlohmann::json());
    SSL_CHECK(value.is_number() && value.get<double>() >= 0 && value.get<double>() <= 1, "compare: ", path,
              ": splits.", split, ".", key, " is ", value.dump(),
              "; expected a fraction in [0, 1] (remove the file and run the study again to score that run)");
  }
}

// Linear probe of an encoder ("DIR" or "random:MODEL") at layer c.layer, trained on `train`, tested on
// c.test (and c.transfer): evaluate()'s result.
nlohmann::json linear_eval(const CompareOptions& c, const std::string& encoder, const std::string& train,
                           const std::string& transfer, int64_t input_size = 0) {
  EvalOptions e;
  e.layer = c.layer;
  e.input_size = input_size;
  e.encoder = encoder;
  e.train = train;
  e.test = c.test;
  e.transfer = transfer;
  e.image_size = c.image_size;
  e.seed = c.seed;
  e.workers = c.workers;
  e.device = c.device;
  e.show_progress = c.show_progress;
  e.probe.epochs = c.probe_epochs;
  return evaluate(e);
}

nlohmann::json method_entry(const std::string& name, const std::string& dir, const std::string& protocol,
                            nlohmann::json splits, const std::string& out_dir) {
  nlohmann::json m = {{"name", name}, {"protocol", protocol}, {"splits", std::move(splits)}};
  if (!dir.empty()) {
    m["dir"] = std::filesystem::relative(dir, out_dir).string();
    m["metrics"] = metrics_of(dir);
  }
  return m;
}

// The entry of a method evaluated by linear_eval: its splits and the layer the probe read.
nlohmann::json linear_entry(const std::string& name, const std::string& dir, const nlohmann::json& eval,
                            const std::string& out_dir) {
  nlohmann::json m = method_entry(name, dir, "linear", eval["splits"], out_dir);
  m["layer"] = eval["layer"];
  if (eval.contains("layer_selection")) m["layer_selection"] = eval["layer_selection"];
  return m;
}

// The train and test splits' Top-1/Top-5 of the run in `dir` as `accuracy` scores it: classifier_accuracy
// (the run's classifier) or joint_probe_accuracy (the probe trained alongside SimCLR).
using RunAccuracy = TopK (*)(const std::string& run_dir, const data::Dataset& data, int workers,
                             bool show_progress, Device device);
nlohmann::json scored_splits(const CompareOptions& c, const std::string& dir, const std::string& train,
                             RunAccuracy accuracy) {
  nlohmann::json splits;
  for (const auto& [split, spec] : {std::pair{"train", train}, std::pair{"test", c.test}}) {
    data::OpenOptions open;
    open.image_size = c.image_size;
    const TopK t =
        accuracy(dir, *data::open_dataset(spec, open), c.workers, c.show_progress, Device::parse(c.device));
    splits[split] = {{"top1", t.top1}, {"top5", t.top5}, {"data", spec}};
  }
  return splits;
}

// The patch task trains its encoder on patches and the probe runs it on whole images: refused before anything
// trains when the model is built differently at the two sizes (load_encoder would refuse it at the end).
void check_patch_encoder_fits_images(const CompareOptions& c) {
  const int64_t patch = patch_grid_params(pretrain_options(c, "patch", c.data, "").patch, c.image_size).patch;
  const std::string on_patches = nn::size_dependent_design(c.model, patch);
  const std::string on_images = nn::size_dependent_design(c.model, c.image_size);
  SSL_CHECK(on_patches == on_images, "compare --study a: the patch task trains ", c.model, " on ", patch,
            " px patches (", on_patches, "), and the probe runs it on ", c.image_size, " px images (",
            on_images, "); choose another --model or --image-size");
}

// --layer best chooses each probe's layer on a held-out fifth of every class of the probes' images: refused
// before anything trains when no class of `set` has two images to hold one out.
void check_layer_can_be_chosen(const CompareOptions& c, const data::Dataset& set, const std::string& spec) {
  SSL_CHECK(c.layer != "best" || has_a_class_of_two(set),
            "compare: --layer best chooses each probe's layer on a held-out fifth of every class of ", spec,
            ", which has no class with two images; give it more images, or name a --layer");
}

nlohmann::json study_a(const CompareOptions& c) {
  if (method_available("patch")) check_patch_encoder_fits_images(c);
  const std::string probe = c.probe_data.empty() ? c.data : c.probe_data;
  nlohmann::json methods = nlohmann::json::array();
  for (const char* method : {"simclr", "rotation", "context"}) {
    if (!method_available(method)) continue;
    const std::string dir = c.out_dir + "/" + method;
    pretrain_or_continue(pretrain_options(c, method, c.data, dir));
    methods.push_back(linear_entry(method, dir, linear_eval(c, dir, probe, c.transfer), c.out_dir));
  }
  if (method_available("patch")) {
    const std::string dir = c.out_dir + "/patch";
    pretrain_or_continue(pretrain_options(c, "patch", c.unlabeled.empty() ? c.data : c.unlabeled, dir));
    // Trained on patches, its convolutions run on whole images for the probe (as the random floor's do).
    const std::string patch_probe = c.patch_probe_data.empty() ? probe : c.patch_probe_data;
    nlohmann::json m =
        linear_entry("patch", dir, linear_eval(c, dir, patch_probe, c.transfer, c.image_size), c.out_dir);
    m["note"] = "encoder trained on patches; its convolutions are applied to whole images for the probe";
    methods.push_back(m);
  }
  methods.push_back(
      linear_entry("random", "", linear_eval(c, "random:" + c.model, probe, c.transfer), c.out_dir));
  return methods;
}

nlohmann::json study_b(const CompareOptions& c) {
  const std::string budget = str_cat("@", c.labels_per_class, ",seed=", c.seed);
  const std::string labelled = c.data + budget;
  {
    // Every model of this study is a classifier over the labelled classes, scored on --test by label:
    // refuse a test set whose classes differ before anything trains.
    data::OpenOptions open;
    open.image_size = c.image_size;
    const auto labelled_set = data::open_dataset(labelled, open);
    data::check_same_classes(*labelled_set, *data::open_dataset(c.test, open), "compare --study b --test");
    check_layer_can_be_chosen(c, *labelled_set, labelled);
    const int64_t rest = data::open_dataset(c.data + budget + ",rest", open)->size();
    SSL_CHECK(rest > 0, "compare --study b: ", c.labels_per_class, " labels per class take every image of ",
              c.data, "; the semi-supervised runs need unlabelled images besides them");
    // The runs that take only whole batches: SimCLR on every image, the SGANs on the unlabelled ones.
    const int64_t images = data::open_dataset(c.data, open)->size(),
                  gan_batch = std::min<int64_t>(c.batch_size, 64);
    SSL_CHECK(images >= c.batch_size, "compare --study b: SimCLR trains on whole batches of ", c.batch_size,
              " images, and ", c.data, " has ", images, "; give more images or a smaller --batch-size");
    SSL_CHECK(rest >= gan_batch, "compare --study b: the SGANs train on whole batches of ", gan_batch,
              " unlabelled images, and ", c.data, " has ", rest,
              " besides the labelled ones; give more "
              "images, fewer --labels-per-class or a smaller --batch-size");
  }
  nlohmann::json methods = nlohmann::json::array();

  // The runs on the labels alone: more epochs, smaller batches (see CompareOptions::label_epochs).
  auto on_labels = [&](const std::string& method, const std::string& dir) {
    PretrainOptions p = pretrain_options(c, method, labelled, dir);
    p.epochs = c.label_epochs;
    p.batch_size = std::min<int64_t>(c.batch_size, 32);
    return p;
  };
  const std::string supervised = c.out_dir + "/supervised";
  pretrain_or_continue(on_labels("supervised", supervised));
  methods.push_back(method_entry("supervised", supervised, "classifier",
                                 scored_splits(c, supervised, labelled, classifier_accuracy), c.out_dir));

  // SimCLR on every image with a linear probe trained jointly on the labelled ones (the study's setting); the
  // probe itself is evaluated, and a linear probe fitted afterwards on the frozen features is shown beside
  // it.
  const std::string simclr = c.out_dir + "/simclr";
  PretrainOptions s = pretrain_options(c, "simclr", c.data, simclr);
  s.joint_probe = labelled;
  pretrain_or_continue(s);
  nlohmann::json m = method_entry("simclr", simclr, "joint probe",
                                  scored_splits(c, simclr, labelled, joint_probe_accuracy), c.out_dir);
  m["note"] =
      "SimCLR on all images with a linear probe trained jointly on the labelled ones (detached features)";
  methods.push_back(m);
  methods.push_back(linear_entry("simclr+linear", "", linear_eval(c, simclr, labelled, ""), c.out_dir));

  const std::string finetune = c.out_dir + "/finetune";
  PretrainOptions f = on_labels("finetune", finetune);
  f.init = simclr;
  pretrain_or_continue(f);
  methods.push_back(method_entry("finetune", finetune, "classifier",
                                 scored_splits(c, finetune, labelled, classifier_accuracy), c.out_dir));

  // The SGAN variants: supervised-only, semi-supervised, and with the SimCLR encoder as the discriminator.
  const std::string unlabelled = c.data + budget + ",rest";
  for (const auto& [name, dir, pool, init] :
       {std::tuple{"sgan supervised", "sgan_supervised", std::string(), std::string()},
        std::tuple{"sgan", "sgan", unlabelled, std::string()},
        std::tuple{"sgan pretrained", "sgan_pretrained", unlabelled, simclr}}) {
    SganOptions g;
    g.labelled = labelled;
    g.unlabelled = pool;
    g.test = c.test;
    g.init_discriminator = init;
    g.out_dir = c.out_dir + "/" + dir;
    g.image_size = c.image_size;
    g.epochs = pool.empty() ? c.label_epochs : c.epochs;  // an epoch is a pass over the unlabelled images
    g.batch_size = std::min<int64_t>(c.batch_size, 64);
    g.max_steps_per_epoch = c.max_steps_per_epoch;
    g.seed = c.seed;
    g.workers = c.workers;
    g.threads = c.threads;
    g.device = c.device;
    g.show_progress = c.show_progress;
    sgan_or_continue(g, name);
    // The run's results.json scores the final discriminator on the labelled and on the test images.
    const std::string results_path = g.out_dir + "/results.json";
    const nlohmann::json results = read_json_object(results_path);
    SSL_CHECK(results.contains("variant") && results.contains("splits") && results["splits"].is_object(),
              "compare: ", results_path,
              " is not an SGAN run's results (no \"variant\" and \"splits\"); "
              "remove it and run the study again to score that run");
    nlohmann::json splits = results["splits"];
    check_kept_scores(splits, "test", results_path);
    if (splits.contains("train")) check_kept_scores(splits, "train", results_path);
    // A run written before the final discriminator was scored on the labelled images: its last epoch's
    // running accuracy.
    if (!splits.contains("train")) {
      const nlohmann::json metrics = metrics_of(g.out_dir);
      SSL_CHECK(!metrics.empty(), "compare: ", g.out_dir, " has no metrics");
      splits["train"] = {
          {"top1", metrics.back().value("train_accuracy", 0.0)}, {"top5", std::nan("")}, {"data", labelled}};
    }
    nlohmann::json m = method_entry(name, g.out_dir, "discriminator", splits, c.out_dir);
    nlohmann::json samples = nlohmann::json::array();
    for (const auto& entry : std::filesystem::directory_iterator(g.out_dir)) {
      const std::string file = entry.path().filename().string();
      if (file.rfind("samples_epoch_", 0) == 0)
        samples.push_back(std::filesystem::relative(entry.path(), c.out_dir).string());
    }
    std::sort(samples.begin(), samples.end());
    if (!samples.empty()) m["samples"] = samples;
    methods.push_back(m);
  }

  methods.push_back(linear_entry("random", "", linear_eval(c, "random:" + c.model, labelled, ""), c.out_dir));
  return methods;
}

// Opens every dataset the study names, checks the ones the probes use and looks up --layer, before anything
// runs: a mistyped --test, --transfer or --layer, an unlabelled probe or test set, or one without a class in
// common fails at once instead of after the first pre-training (study B's label budgets are drawn from
// --data later, and checked in study_b).
void check_inputs(const CompareOptions& c) {
  data::OpenOptions open;
  open.image_size = c.image_size;
  const auto test_set = data::open_dataset(c.test, open);
  const auto transfer_set = c.transfer.empty() ? nullptr : data::open_dataset(c.transfer, open);
  // A probe's training set, and the test and transfer sets it is scored on.
  const auto check_probe_set = [&](const std::string& spec, const std::string& role) {
    const auto set = data::open_dataset(spec, open);
    check_evaluation_split(*set, spec, role);
    if (c.study == "a") check_layer_can_be_chosen(c, *set, spec);
    check_evaluation_split(*test_set, c.test, "--test", set.get());
    if (transfer_set) check_evaluation_split(*transfer_set, c.transfer, "--transfer", set.get());
  };
  const std::string probe = c.probe_data.empty() || c.study == "b" ? c.data : c.probe_data;
  check_probe_set(probe, "the probes' training split");
  const bool patch_probe = c.study == "a" && !c.patch_probe_data.empty();
  if (patch_probe) check_probe_set(c.patch_probe_data, "--patch-probe-data");
  // The sets pre-training alone reads (unlabelled is fine) are only opened, each once.
  for (const std::string& spec : {c.data, c.unlabeled, c.probe_data})
    if (!spec.empty() && spec != probe && !(patch_probe && spec == c.patch_probe_data))
      data::open_dataset(spec, open);
  // The probes read --layer only after each pre-training: a name the model lacks is refused now.
  if (!c.layer.empty() && c.layer != "best") nn::make_encoder(c.model, c.image_size)->layer_index(c.layer);
}

// A study's results.json and the report drawn from it.
void write_results(const std::string& out_dir, const nlohmann::json& results) {
  nn::write_file_atomically(out_dir + "/results.json", results.dump(2) + "\n");
  write_report(out_dir, results);
}

// The study once per seed, each run in its own out_dir/seed_K (kept, resumed or refused there as a single
// run is), then their summary.
nlohmann::json compare_over_seeds(const CompareOptions& c) {
  std::vector<nlohmann::json> runs;
  std::vector<std::string> dirs;
  for (int64_t r = 0; r < c.repeats; ++r) {
    CompareOptions one = c;
    one.repeats = 1;
    one.seed = c.seed + uint64_t(r);
    dirs.push_back(str_cat("seed_", one.seed));
    one.out_dir = c.out_dir + "/" + dirs.back();
    if (c.show_progress)
      std::printf("\n==== seed %llu (%lld of %lld)\n", (unsigned long long)one.seed, (long long)r + 1,
                  (long long)c.repeats);
    runs.push_back(compare(one));
  }
  nlohmann::json summary = summarise_over_seeds(runs, dirs);
  summary["config"]["repeats"] = c.repeats;
  write_results(c.out_dir, summary);
  return summary;
}

}  // namespace

void apply_defaults(CompareOptions& o, bool data_given, bool transfer_given) {
  if (!data_given) o.data = o.study == "a" ? "synthetic:train:2000" : "synthetic:train:2200";
  if (o.transfer == "none") {
    o.transfer.clear();
  } else if (!transfer_given && o.study == "a" && o.data.rfind("synthetic", 0) == 0) {
    o.transfer = "synthetic:transfer";
  }
}

nlohmann::json compare(const CompareOptions& c) {
  SSL_CHECK(c.study == "a" || c.study == "b", "compare: unknown study '", c.study, "'; expected a or b");
  SSL_CHECK(c.repeats >= 1, "compare: repeats must be at least 1, got ", c.repeats);
  if (c.repeats > 1) return compare_over_seeds(c);
  Device::parse_present(c.device);  // before anything is written
  check_inputs(c);
  // The settings the study reads (the other study's are left out), and the compute thread count of the runs
  // it starts, on which their last bits depend (a run continued keeps the count in its config.json).
  nlohmann::json config = {{"study", c.study},
                           {"data", c.data},
                           {"test", c.test},
                           {"model", c.model},
                           {"image_size", c.image_size},
                           {"epochs", c.epochs},
                           {"batch_size", c.batch_size},
                           {"probe_epochs", c.probe_epochs},
                           {"crop_min_scale", c.crop_min_scale},
                           {"layer", c.layer},
                           {"max_steps_per_epoch", c.max_steps_per_epoch},
                           {"seed", c.seed},
                           {"device", c.device},
                           {"threads", kernels::ComputeThreads(c.threads).count()}};
  if (c.study == "a") {
    config["transfer"] = c.transfer;
    config["unlabeled"] = c.unlabeled.empty() ? c.data : c.unlabeled;
    const std::string probe = c.probe_data.empty() ? c.data : c.probe_data;
    config["probe_data"] = probe;
    config["patch_probe_data"] = c.patch_probe_data.empty() ? probe : c.patch_probe_data;
  } else {
    config["labels_per_class"] = c.labels_per_class;
    config["label_epochs"] = c.label_epochs;
  }
  nlohmann::json results = {{"study", c.study},
                            {"title", c.study == "a" ? "which pretext task learns the best features?"
                                                     : str_cat("semi-supervised learning with ",
                                                               c.labels_per_class, " labels per class")},
                            {"config", config}};
  results["methods"] = c.study == "a" ? study_a(c) : study_b(c);
  nn::make_directories(c.out_dir);  // only now: a study that cannot start leaves no directory behind
  write_results(c.out_dir, results);
  return results;
}

}  // namespace ssl
