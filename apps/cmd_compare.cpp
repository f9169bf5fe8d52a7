// `ssl compare --study a|b`: each study of ../shared/EXPERIMENTS.md as one command (ssl/compare.h).
#include <cstdio>
#include <memory>
#include <string>

#include "apps/commands.h"
#include "apps/flags.h"
#include "core/error.h"
#include "ssl/compare.h"
#include "ssl/report.h"

namespace ssl::apps {

void add_compare_command(CLI::App& app) {
  auto o = std::make_shared<CompareOptions>();
  CLI::App* cmd = app.add_subcommand(
      "compare", "Run a study end to end: a = pretext tasks compared by linear probe, b = semi-supervised");
  cmd->add_option("--study", o->study, "a or b")->required()->check(CLI::IsMember({"a", "b"}));
  cmd->add_option("--data", o->data,
                  "Labelled training images (a bad spec lists the accepted forms). Default: study a "
                  "synthetic:train:2000 (about 1.5 minutes on 2 cores; all 10,000 images: about 7), study b "
                  "synthetic:train:2200, the study's scale: 20 labels per class and 2,000 unlabelled images "
                  "(about 5 minutes)");
  cmd->add_option("--test", o->test, "Test split")->capture_default_str();
  cmd->add_option("--transfer", o->transfer,
                  "Study a: another labelled test set, classes matched by name (default with synthetic "
                  "--data: synthetic:transfer, the same shapes shifted; 'none' for no transfer set)");
  cmd->add_option("--unlabeled", o->unlabeled, "Study a: images for the patch task (default: --data)");
  cmd->add_option("--probe-data", o->probe_data,
                  "Study a: labelled images the linear probes are fitted on (default: --data), e.g. all "
                  "of synthetic:train while pretraining on a subset");
  cmd->add_option("--patch-probe-data", o->patch_probe_data,
                  "Study a: labelled images the patch encoder's probe is fitted on (default: the other "
                  "probes'); the study fitted it on STL-10 train");
  cmd->add_option("--labels-per-class", o->labels_per_class, "Study b: labelled images per class of --data")
      ->capture_default_str()
      ->check(positive_number());
  cmd->add_option(
         "--label-epochs", o->label_epochs,
         "Study b: epochs of the runs on the labelled images only (supervised, finetune with batches of at "
         "most 32; sgan supervised-only with at most 64)")
      ->capture_default_str()
      ->check(positive_number());
  cmd->add_option("--model", o->model, "Encoder of every method")->capture_default_str();
  cmd->add_option("--image-size", o->image_size, "Input size in pixels")
      ->capture_default_str()
      ->check(image_side());
  cmd->add_option(
         "--epochs", o->epochs,
         "Epochs of the self-supervised runs and of the semi-supervised SGAN runs (study b's runs on the "
         "labels alone take --label-epochs)")
      ->capture_default_str()
      ->check(positive_number());
  cmd->add_option(
         "--batch-size", o->batch_size,
         "Batch size of the self-supervised runs (study b: at most 32 for the runs on the labels alone, at "
         "most 64 for the SGAN runs)")
      ->capture_default_str()
      ->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--probe-epochs", o->probe_epochs, "Epochs of each linear probe")
      ->capture_default_str()
      ->check(positive_number());
  cmd->add_option("--crop-min-scale", o->crop_min_scale,
                  "SimCLR's random resized crop: smallest area, as a fraction of the image")
      ->capture_default_str()
      ->check(number_in(0.01, 1.0));
  cmd->add_option("--layer", o->layer,
                  "The encoder layer each linear probe reads: best (chosen per encoder on a held-out fifth "
                  "of the probe's images), a layer name, or empty for the encoder's output")
      ->capture_default_str();
  cmd->add_option(
         "--max-steps", o->max_steps_per_epoch,
         "Stop each epoch of the pretext, SGAN, supervised and fine-tuning runs after this many steps "
         "(0 = all)")
      ->check(non_negative_number());
  add_seed_flag(*cmd, o->seed, "Random seed (also draws the labelled subset)");
  cmd->add_option("--repeats", o->repeats,
                  "Run the study this many times, with seeds --seed, --seed + 1, ... (each in OUT/seed_K); "
                  "results.json and the report give each number's mean and standard deviation")
      ->capture_default_str()
      ->check(positive_number());
  add_workers_flag(*cmd, o->workers);
  add_device_flag(*cmd, o->device, "Where every run trains and every encoder runs");
  add_threads_flag(*cmd, o->threads, /*resumable=*/true);
  cmd->add_option("--out", o->out_dir,
                  "Output directory: one sub-directory per run, results.json and report.html (a rerun "
                  "resumes unfinished runs and keeps finished ones; a pre-training run made with other "
                  "settings is refused)")
      ->capture_default_str();
  cmd->callback([o, cmd]() {
    // A flag of the other study would be ignored (and recorded in results.json as if used): refused.
    for (const auto& [flag, study] : {std::pair{"--transfer", "a"},
                                      {"--unlabeled", "a"},
                                      {"--probe-data", "a"},
                                      {"--patch-probe-data", "a"},
                                      {"--labels-per-class", "b"},
                                      {"--label-epochs", "b"}})
      SSL_CHECK(cmd->count(flag) == 0 || o->study == study, flag, " is an option of --study ", study,
                "; --study ", o->study, " does not read it");
    set_threads(o->threads);
    apply_defaults(*o, cmd->count("--data") > 0, cmd->count("--transfer") > 0);
    const nlohmann::json r = compare(*o);
    if (o->repeats > 1)
      std::printf("\nmean ± sample standard deviation over %lld runs (seeds %s)", (long long)o->repeats,
                  r["config"]["seeds"].dump().c_str());
    std::printf("\n%-16s %-20s %-9s %16s %16s\n", "method", "protocol", "split", "top1", "top5");
    for (const nlohmann::json& m : r["methods"])
      for (const std::string split : {"train", "test", "transfer"})
        if (m["splits"].contains(split))
          std::printf("%-16s %-20s %-9s %16s %16s\n", m["name"].get<std::string>().c_str(),
                      protocol_label(m).c_str(), split.c_str(), percent_label(m, split, "top1").c_str(),
                      percent_label(m, split, "top5").c_str());
    std::printf("results in %s/results.json, report in %s/report.html\n", o->out_dir.c_str(),
                o->out_dir.c_str());
  });
}

}  // namespace ssl::apps
