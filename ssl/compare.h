// `ssl compare --study a|b`: the two studies of ../shared/EXPERIMENTS.md as one command each, on any
// dataset in a supported format (the built-in synthetic one by default). Every run goes in a sub-directory of
// out_dir (its checkpoints, metrics and encoder, as `ssl pretrain` writes them); the numbers are gathered in
// out_dir/results.json and drawn in out_dir/report.html (ssl/report.h).
//
// Study A (which pretext task learns the best features?): simclr, rotation and context pre-trained on the
// images of `data` (labels unused), each encoder frozen and probed linearly on the labels of `probe_data`
// (default: `data`); Top-1/Top-5 on that set, test and, when given, a transfer set (classes matched by
// name); then patch (relative patch position) pre-trained on `unlabeled` (default: `data`) and probed the
// same way, on `patch_probe_data` when given; a random encoder as the floor.
//
// Study B (semi-supervised, `labels_per_class` labels per class of `data`, the rest of it unlabelled): the
// supervised baseline on the labels only; SimCLR on all images with a linear probe trained jointly on the
// labels (and, beside it, a probe fitted afterwards on the frozen features); fine-tuning of that SimCLR
// encoder on the labels; the SGAN supervised-only, semi-supervised and with the SimCLR encoder as its
// discriminator (ssl/sgan.h), whose sample grids the report shows.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace ssl {

struct CompareOptions {
  std::string study = "a";
  std::string data = "synthetic:train";  // labelled images (labels used only where the study says)
  std::string test = "synthetic:test";
  std::string transfer;    // study A: another labelled test set (optional; see apply_defaults)
  std::string unlabeled;   // study A: images for the patch task (default: data)
  std::string probe_data;  // study A: labelled images the linear probes are fitted on (default: data)
  // Study A: labelled images the patch encoder's probe is fitted on (default: probe_data); the study fitted
  // it on STL-10 train, where the others' were fitted on CIFAR-10 train.
  std::string patch_probe_data;
  int64_t labels_per_class = 20;  // study B
  // Study B's runs on the labelled images only (supervised, finetune, sgan supervised-only) see a few hundred
  // images: they get their own epoch count and a batch of at most 32 (64 for the SGAN), so that they take a
  // useful number of steps.
  int64_t label_epochs = 50;
  std::string model = "convnet2";
  int64_t image_size = 32;
  int64_t epochs = 10;
  int64_t batch_size = 128;
  int64_t probe_epochs = 60;
  // SimCLR's random resized crop, smallest area (both studies; PretrainOptions' default,
  // ../shared/ALGORITHMS.md's 0.08). On synthetic, where one object fills half the picture, most crops that
  // small miss it.
  double crop_min_scale = 0.08;
  // The encoder layer every linear probe reads (EvalOptions::layer): by default each encoder's best on a
  // held-out fifth of the probe's training images, as ../shared/ALGORITHMS.md advises for comparing pretext
  // tasks.
  std::string layer = "best";
  int64_t max_steps_per_epoch = 0;  // 0 = whole epochs (smaller for quick runs and tests)
  uint64_t seed = 0;
  // Runs of the whole study, with seeds seed, seed + 1, ...: each in out_dir/seed_K, and out_dir's
  // results.json gives every number's mean and spread over them (ssl/seed_summary.h). Study B draws its
  // labelled images with each seed too.
  int64_t repeats = 1;
  int workers = 2;
  // Compute threads of every training run (0 = the process's count); a run continued keeps the count it
  // recorded unless this gives one (PretrainOptions::threads).
  int threads = 0;
  std::string device = "cpu";  // where every run trains and every encoder runs: cpu, cuda or cuda:N
  std::string out_dir = "runs/compare";
  bool show_progress = true;
};

// The defaults that depend on other options, as `ssl compare` applies them: without `data_given`, the
// study's scale of synthetic data (A: synthetic:train:2000; B: synthetic:train:2200, 20 labels per class and
// 2,000 unlabelled); in study A on synthetic data without `transfer_given`, the transfer set
// synthetic:transfer (data/synthetic.h). A transfer of "none" means no transfer set.
void apply_defaults(CompareOptions& options, bool data_given, bool transfer_given);

// Runs the study (options.repeats times); returns results.json's content (also written, with report.html,
// to out_dir).
nlohmann::json compare(const CompareOptions& options);

}  // namespace ssl
