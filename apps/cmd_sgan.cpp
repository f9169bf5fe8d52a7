// `ssl sgan`: the semi-supervised GAN (ssl/sgan.h).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "apps/flags.h"
#include "ssl/pretrain.h"
#include "ssl/sgan.h"

namespace ssl::apps {

namespace {
// The options stored in config.json, by flag: on --resume, those given override the saved values (and the
// runner refuses any that differ, except epochs, workers, device, sample_every and threads).
const std::map<std::string, std::string> kSganConfigKeyOfFlag = {
    {"--labelled", "labelled"},
    {"--unlabelled", "unlabelled"},
    {"--test", "test"},
    {"--image-size", "image_size"},
    {"--epochs", "epochs"},
    {"--batch-size", "batch_size"},
    {"--latent", "latent"},
    {"--lr", "lr"},
    {"--beta1", "beta1"},
    {"--feature-matching", "feature_matching"},
    {"--fake-logit", "fake_logit"},
    {"--unsupervised-weight", "unsupervised_weight"},
    {"--ema-decay", "ema_decay"},
    {"--init-discriminator", "init_discriminator"},
    {"--seed", "seed"},
    {"--workers", "workers"},
    {"--threads", "threads"},
    {"--device", "device"},
    {"--skip-bad-images", "skip_bad_images"},
    {"--sample-every", "sample_every"},
    {"--max-steps", "max_steps_per_epoch"}};

// The method a run directory's config.json names, or "" when there is none to read (the command the line goes
// to then says what is missing).
std::string saved_method(const std::string& dir) {
  const std::string path = dir + "/config.json";
  if (!std::filesystem::is_regular_file(path)) return "";  // not waited on when it is a FIFO
  std::ifstream in(path);
  const nlohmann::json config = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!config.is_object()) return "";
  const auto method = config.find("method");
  return method != config.end() && method->is_string() ? method->get<std::string>() : "";
}

// The generator's options: without unlabelled images (--unlabelled "", the supervised-only variant) no
// generator trains, so given there they would be recorded in config.json and do nothing.
void check_generator_flags(const CLI::App& cmd, const SganOptions& o) {
  if (!o.unlabelled.empty()) return;
  for (const char* flag : {"--latent", "--feature-matching", "--unsupervised-weight", "--sample-every"})
    SSL_CHECK(cmd.count(flag) == 0, flag,
              std::string_view(flag) == "--feature-matching" ? "/--no-feature-matching" : "",
              " is an option of the generator; with --unlabelled \"\" (the supervised-only variant) no "
              "generator trains");
}
}  // namespace

std::vector<std::string> route_pretrain_sgan(const std::vector<std::string>& args) {
  if (args.size() < 2 || args[1] != "pretrain") return args;
  std::string method, resume;
  std::vector<std::string> as_sgan = {args[0], "sgan"};
  const std::string method_eq = "--method=", resume_eq = "--resume=";
  for (size_t i = 2; i < args.size(); ++i) {
    const std::string& arg = args[i];
    const bool valued = i + 1 < args.size();
    if (arg.starts_with(method_eq)) {
      method = arg.substr(method_eq.size());
    } else if (arg == "--method" && valued) {
      method = args[++i];
    } else {
      if (arg.starts_with(resume_eq)) resume = arg.substr(resume_eq.size());
      if (arg == "--resume" && valued) resume = args[i + 1];
      as_sgan.push_back(arg);
    }
  }
  const bool sgan = method == "sgan" || (method.empty() && !resume.empty() && saved_method(resume) == "sgan");
  return sgan ? as_sgan : args;
}

void add_sgan_command(CLI::App& app) {
  auto o = std::make_shared<SganOptions>();
  CLI::App* cmd = app.add_subcommand(
      "sgan", "Train a semi-supervised GAN: a discriminator that classifies into the K classes or 'fake'");
  cmd->add_option("--labelled", o->labelled, "Labelled training images, e.g. synthetic:train@20")
      ->capture_default_str();
  cmd->add_option("--unlabelled", o->unlabelled,
                  "Unlabelled training images, e.g. synthetic:train@20,rest; \"\" trains the discriminator "
                  "as a plain classifier on the labelled images (the supervised-only variant)")
      ->capture_default_str();
  cmd->add_option("--test", o->test, "Labelled test images (Top-1/Top-5 after every epoch)")
      ->capture_default_str();
  cmd->add_option("--image-size", o->image_size, "Image size in pixels (a power of two, 16 to 256)")
      ->capture_default_str()
      ->check(positive_number());
  cmd->add_option("--epochs", o->epochs, "Epochs (passes over the unlabelled images)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t(1), kMaxEpochs));
  cmd->add_option("--batch-size", o->batch_size, "Unlabelled, generated and labelled images per step")
      ->capture_default_str()
      ->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--latent", o->latent, "Size of the generator's input z")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--lr", o->lr, "Adam learning rate of both networks")
      ->capture_default_str()
      ->check(non_negative_number());
  cmd->add_option("--beta1", o->beta1, "Adam beta1 of both networks")
      ->capture_default_str()
      ->check(fraction_below_one());
  cmd->add_flag("--feature-matching,!--no-feature-matching", o->feature_matching,
                "Generator loss: match the mean penultimate features of real and generated images (default), "
                "or the non-saturating -log D(G(z))");
  cmd->add_option("--fake-logit", o->fake_logit,
                  "fixed (K logits, the fake one fixed at 0; Salimans) or explicit (K+1 logits; Odena)")
      ->capture_default_str()
      ->check(CLI::IsMember({"fixed", "explicit"}));
  cmd->add_option("--unsupervised-weight", o->unsupervised_weight,
                  "Weight of the unlabelled and generated terms in the discriminator's loss, beside the "
                  "labelled one (Salimans et al.'s code uses 0.5)")
      ->capture_default_str()
      ->check(non_negative_number());
  cmd->add_option("--ema-decay", o->ema_decay,
                  "Evaluate and write a moving average of the discriminator's weights with this decay "
                  "(warmed up as min(D, (1 + t) / (10 + t)) at step t; 0 = the trained weights)")
      ->capture_default_str()
      ->check(number_in(0.0, 0.99999));
  cmd->add_option(
      "--init-discriminator", o->init_discriminator,
      "A pretrain or sgan output directory: its encoder with a new linear head is the discriminator");
  cmd->add_option("--sample-every", o->sample_every,
                  "Write an 8x8 grid of generated images every N epochs (and after the first and the last)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t(1), kMaxEpochs));
  cmd->add_option("--max-steps", o->max_steps_per_epoch, "Stop each epoch after this many steps (0 = all)")
      ->check(non_negative_number());
  add_seed_flag(*cmd, o->seed, "Random seed");
  add_skip_bad_images_flag(*cmd, o->skip_bad_images);
  add_workers_flag(*cmd, o->workers);
  add_device_flag(*cmd, o->device, "Where both networks train");
  add_threads_flag(*cmd, o->threads, /*resumable=*/true);
  cmd->add_option("--out", o->out_dir, "Output directory")->capture_default_str();
  auto resume = std::make_shared<std::string>();
  cmd->add_option(
         "--resume", *resume,
         "Continue the run in DIR from DIR/checkpoint.safetensors (written after every epoch): options "
         "come from its config; others given here must agree, except --epochs, --workers, --device, "
         "--sample-every and --threads (the run's own count by default: another changes the last bits from "
         "there on)")
      ->check(not_empty("a run directory"));
  cmd->callback([o, resume, cmd]() {
    if (!resume->empty()) {
      const nlohmann::json merged =
          merge_resume_options(*cmd, "sgan", sgan_options_json(sgan_resume_options(*resume)),
                               sgan_options_json(*o), kSganConfigKeyOfFlag, *resume, o->out_dir);
      const bool show_progress = o->show_progress;
      *o = sgan_options_from_json(merged);
      o->out_dir = *resume;
      o->resume = true;
      o->show_progress = show_progress;
      std::printf("resuming %s (%lld epochs in all)\n", resume->c_str(), (long long)o->epochs);
      std::fflush(stdout);
    }
    check_generator_flags(*cmd, *o);
    const auto metrics = train_sgan(*o);
    const SganEpochMetrics& last = metrics.back();
    std::printf("sgan: %lld epochs; test top-1 %.2f%%, top-5 %.2f%%; outputs in %s\n", (long long)last.epoch,
                100 * last.test_top1, 100 * last.test_top5, o->out_dir.c_str());
  });
}

}  // namespace ssl::apps
