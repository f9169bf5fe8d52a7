// `ssl pretrain` and `ssl eval`.
#include <omp.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>

#include "apps/commands.h"
#include "ssl/evaluate.h"
#include "ssl/pretrain.h"

namespace ssl::apps {

void set_threads(int threads) {
  if (threads > 0) omp_set_num_threads(threads);
}

nlohmann::json merge_resume_options(const CLI::App& cmd, const char* command, nlohmann::json saved,
                                    const nlohmann::json& given,
                                    const std::map<std::string, std::string>& config_key_of_flag,
                                    const std::string& resume_dir, const std::string& out_dir) {
  SSL_CHECK(cmd.count("--out") == 0 || out_dir == resume_dir, command, ": --out ", out_dir,
            " differs from --resume ", resume_dir, "; a resumed run continues in its own directory");
  for (const CLI::Option* opt : cmd.get_options()) {
    if (opt->count() == 0) continue;
    const std::string flag = opt->get_name();
    auto it = config_key_of_flag.find(flag);
    if (it != config_key_of_flag.end())
      saved[it->second] = given.at(it->second);
    else
      SSL_CHECK(flag == "--out" || flag == "--threads" || flag == "--resume", command, ": ", flag,
                " cannot be combined with --resume");  // an option the saved config does not hold
  }
  return saved;
}

void add_skip_bad_images_flag(CLI::App& cmd, bool& skip_bad_images) {
  cmd.add_flag("--skip-bad-images", skip_bad_images,
               "Image folders: leave out files that cannot be read, with a counted warning (default: error)");
}

void add_device_flag(CLI::App& cmd, std::string& device, const std::string& what) {
  cmd.add_option("--device", device, what + ": cpu, cuda or cuda:N")->capture_default_str();
}

namespace {
// `help` is what --help shows after the type ("INT:POSITIVE").
CLI::Validator number_check(const std::string& help, const std::string& expected, bool (*accepts)(double)) {
  return CLI::Validator(
      [expected, accepts](std::string& input) -> std::string {
        double value = 0;
        if (!CLI::detail::lexical_cast(input, value) || !accepts(value))
          return str_cat("expected ", expected, ", found ", input);
        return "";
      },
      help);
}
}  // namespace

CLI::Validator positive_number() {
  return number_check("POSITIVE", "a number above 0", [](double v) { return v > 0; });
}

CLI::Validator non_negative_number() {
  return number_check("NON-NEGATIVE", "a number of at least 0", [](double v) { return v >= 0; });
}

CLI::Validator file_name_ending(const std::string& extension) {
  return CLI::Validator(
      [extension](std::string& input) -> std::string {
        if (std::filesystem::path(input).extension() == extension) return "";
        return str_cat("expected a file name ending in ", extension, ", found '", input, "'");
      },
      "*" + extension);
}

void add_threads_flag(CLI::App& cmd, int& threads) {
  cmd.add_option("--threads", threads, "Compute threads (0 = OpenMP default)")
      ->capture_default_str()
      ->check(non_negative_number());
}

void add_workers_flag(CLI::App& cmd, int& workers) {
  cmd.add_option("--workers", workers, "Data-loading threads (0 = on the training thread)")
      ->capture_default_str()
      ->check(non_negative_number());
}

namespace {
// The pretrain options stored in config.json, by flag: on --resume, those given override the saved values
// (and pretrain refuses any that differ, except epochs and workers).
const std::map<std::string, std::string> kConfigKeyOfFlag = {{"--method", "method"},
                                                             {"--data", "data"},
                                                             {"--model", "model"},
                                                             {"--epochs", "epochs"},
                                                             {"--batch-size", "batch_size"},
                                                             {"--image-size", "image_size"},
                                                             {"--optimizer", "optimizer"},
                                                             {"--lr", "lr"},
                                                             {"--schedule", "schedule"},
                                                             {"--weight-decay", "weight_decay"},
                                                             {"--warmup-epochs", "warmup_epochs"},
                                                             {"--temperature", "temperature"},
                                                             {"--head-hidden", "head_hidden"},
                                                             {"--head-out", "head_out"},
                                                             {"--cross-view-only", "cross_view_only"},
                                                             {"--crop-min-scale", "crop_min_scale"},
                                                             {"--colour-strength", "colour_strength"},
                                                             {"--mask", "context_mask"},
                                                             {"--hole-fraction", "context_hole_fraction"},
                                                             {"--block-fraction", "context_block_fraction"},
                                                             {"--mask-coverage", "context_coverage"},
                                                             {"--mask-overlap", "context_overlap"},
                                                             {"--overlap-weight", "context_overlap_weight"},
                                                             {"--adversarial-weight", "context_adv_weight"},
                                                             {"--patch-size", "patch_size"},
                                                             {"--patch-gap", "patch_gap"},
                                                             {"--patch-jitter", "patch_jitter"},
                                                             {"--patch-colour", "patch_colour"},
                                                             {"--seed", "seed"},
                                                             {"--skip-bad-images", "skip_bad_images"},
                                                             {"--init", "init"},
                                                             {"--joint-probe", "joint_probe"},
                                                             {"--workers", "workers"},
                                                             {"--device", "device"},
                                                             {"--max-steps", "max_steps_per_epoch"}};
}  // namespace

void add_pretrain_command(CLI::App& app) {
  auto o = std::make_shared<PretrainOptions>();
  auto threads = std::make_shared<int>(0);
  CLI::App* cmd = app.add_subcommand("pretrain", "Pre-train an encoder with a self-supervised method");
  cmd->add_option("--method", o->method,
                  "simclr (two views, NT-Xent), rotation (4-way rotation prediction), supervised (encoder + "
                  "linear head on the labels of --data), finetune (the same from the encoder of --init), "
                  "context (inpaint a masked region) or patch (relative patch position, 8 classes)")
      ->capture_default_str();
  cmd->add_option("--init", o->init, "finetune: a pretrain output directory whose encoder is the start");
  cmd->add_option(
      "--joint-probe", o->joint_probe,
      "simclr: labelled data (e.g. synthetic:train@20) for a linear probe trained jointly on detached "
      "features; its accuracy is logged per epoch as train_top1");
  cmd->add_option("--data", o->data,
                  "Training images (labels used by supervised and finetune only): synthetic[:train|test], or "
                  "a dataset spec; a bad spec "
                  "lists them all")
      ->capture_default_str();
  cmd->add_option("--model", o->model,
                  "Encoder architecture: convnet2, mobilenet_v1 (mobilenet_v1:ALPHA for a width multiplier) "
                  "or resnet18")
      ->capture_default_str();
  cmd->add_option("--epochs", o->epochs, "Epochs")->capture_default_str()->check(CLI::Range(1, 1000000));
  cmd->add_option("--out", o->out_dir, "Output directory")->capture_default_str();
  cmd->add_option("--batch-size", o->batch_size, "Images per batch (each gives two views)")
      ->capture_default_str()
      ->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--image-size", o->image_size, "Input size in pixels")
      ->capture_default_str()
      ->check(positive_number());
  cmd->add_option("--optimizer", o->optimizer, "adam, adamw, sgd (momentum 0.9) or lars (SimCLR's)")
      ->capture_default_str()
      ->check(CLI::IsMember({"adam", "adamw", "sgd", "lars"}));
  cmd->add_option("--lr", o->lr, "Peak learning rate, after a linear warm-up")
      ->capture_default_str()
      ->check(non_negative_number());
  cmd->add_option("--schedule", o->schedule, "Learning-rate schedule after warm-up: cosine, step or constant")
      ->capture_default_str()
      ->check(CLI::IsMember({"cosine", "step", "constant"}));
  cmd->add_option("--weight-decay", o->weight_decay, "Weight decay")
      ->capture_default_str()
      ->check(non_negative_number());
  cmd->add_option("--warmup-epochs", o->warmup_epochs, "Warm-up epochs")
      ->capture_default_str()
      ->check(non_negative_number());
  cmd->add_option("--temperature", o->simclr.temperature, "NT-Xent temperature")
      ->capture_default_str()
      ->check(positive_number());
  cmd->add_option("--head-hidden", o->simclr.head_hidden, "Projection head hidden width")
      ->capture_default_str()
      ->check(positive_number());
  cmd->add_option("--head-out", o->simclr.head_out, "Projection width")
      ->capture_default_str()
      ->check(positive_number());
  cmd->add_option("--crop-min-scale", o->simclr.crop_min_scale,
                  "simclr: smallest area of the random resized crop, as a fraction of the image")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 1.0));
  cmd->add_option(
         "--colour-strength", o->simclr.colour_strength,
         "simclr: colour jitter strength s (brightness, contrast, saturation 0.8 s; hue 0.2 s; p = 0.8)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 2.5));
  cmd->add_flag("--cross-view-only", o->simclr.cross_view_only,
                "NT-Xent over the N×N cross-view similarities only (default: all 2N−1 others)");
  cmd->add_option_function<std::string>(
         "--mask", [o](const std::string& mode) { o->context.mask.mode = parse_mask_mode(mode); },
         "context: the hidden region, centre (one centred square hole, the default) or blocks (random "
         "square blocks)")
      ->check(CLI::IsMember({"centre", "center", "blocks"}));
  cmd->add_option("--hole-fraction", o->context.mask.hole_fraction,
                  "context, centre mask: the hole's side as a fraction of the image's")
      ->capture_default_str();
  cmd->add_option("--block-fraction", o->context.mask.block_fraction,
                  "context, blocks mask: each block's side as a fraction of the image's")
      ->capture_default_str();
  cmd->add_option("--mask-coverage", o->context.mask.coverage,
                  "context, blocks mask: add blocks until this fraction of the image is covered")
      ->capture_default_str();
  cmd->add_option("--mask-overlap", o->context.mask.overlap,
                  "context: pixels of the region the encoder still sees on each side (-1 = side / 16)")
      ->capture_default_str();
  cmd->add_option("--overlap-weight", o->context.overlap_weight,
                  "context: L2 weight of that overlap band relative to the hidden pixels")
      ->capture_default_str()
      ->check(non_negative_number());
  cmd->add_option("--adversarial-weight", o->context.adversarial_weight,
                  "context: weight w in [0, 1) of the adversarial term, (1 - w) L2 + w adversarial (0 = L2 "
                  "only; the original used 0.001)")
      ->capture_default_str();
  cmd->add_option("--patch-size", o->patch.patch,
                  "patch: side of each grid patch and of the encoder's input (0 = scaled from --image-size "
                  "and rounded down to a multiple of 4, with gap and jitter derived too)")
      ->capture_default_str()
      ->check(non_negative_number());
  cmd->add_option("--patch-gap", o->patch.gap,
                  "patch: pixels between neighbouring patches (with --patch-size)")
      ->capture_default_str()
      ->check(non_negative_number());
  cmd->add_option("--patch-jitter", o->patch.jitter,
                  "patch: each patch moves by up to +-this many pixels (with --patch-size)")
      ->capture_default_str()
      ->check(non_negative_number());
  cmd->add_option("--patch-colour", o->patch.colour,
                  "patch: gray (luma in all three channels) or drop (one random channel kept, noise in the "
                  "others)")
      ->capture_default_str()
      ->check(CLI::IsMember({"gray", "drop"}));
  cmd->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  add_skip_bad_images_flag(*cmd, o->skip_bad_images);
  add_workers_flag(*cmd, o->workers);
  add_device_flag(*cmd, o->device, "Where to train");
  add_threads_flag(*cmd, *threads);
  cmd->add_option("--max-steps", o->max_steps_per_epoch, "Stop each epoch after this many steps (0 = all)")
      ->check(non_negative_number());
  auto resume = std::make_shared<std::string>();
  cmd->add_option(
      "--resume", *resume,
      "Continue the run in DIR from DIR/checkpoint.safetensors (written after every epoch): options "
      "come from its config; others given here must agree, except --epochs (to train longer), "
      "--workers, --device and --threads");
  cmd->callback([o, threads, resume, cmd]() {
    set_threads(*threads);
    if (!resume->empty()) {
      // Options left out take the saved run's values; options given must agree with them (checked by
      // pretrain), so only --epochs, --workers and --threads can change on resume.
      const nlohmann::json merged =
          merge_resume_options(*cmd, "pretrain", pretrain_options_json(resume_options(*resume)),
                               pretrain_options_json(*o), kConfigKeyOfFlag, *resume, o->out_dir);
      const bool show_progress = o->show_progress;
      *o = pretrain_options_from_json(merged);
      o->out_dir = *resume;
      o->resume = true;
      o->show_progress = show_progress;
      std::printf("resuming %s (%lld epochs in all)\n", resume->c_str(), (long long)o->epochs);
      std::fflush(stdout);  // before pretrain's own output and errors
    }
    const auto metrics = pretrain(*o);
    std::printf("pretrained %s/%s for %lld epochs: final loss %.4f; encoder in %s/encoder.safetensors\n",
                o->method.c_str(), o->model.c_str(), (long long)o->epochs, metrics.back().loss,
                o->out_dir.c_str());
  });
}

void add_eval_command(CLI::App& app) {
  auto o = std::make_shared<EvalOptions>();
  auto threads = std::make_shared<int>(0);
  CLI::App* cmd = app.add_subcommand(
      "eval", "Evaluate an encoder: linear probe or kNN on frozen features, or fine-tuning");
  cmd->add_option("--encoder", o->encoder,
                  "A pretrain output directory, or random:MODEL for an untrained encoder")
      ->required();
  cmd->add_option("--protocol", o->protocol,
                  "linear (logistic regression on frozen features), knn (cosine, temperature-weighted votes) "
                  "or finetune (encoder + linear head trained on --train from the encoder's weights; "
                  "random:MODEL trains from scratch; the run goes in OUT/finetune, or a temporary directory)")
      ->capture_default_str()
      ->check(CLI::IsMember({"linear", "knn", "finetune"}));
  cmd->add_option("--knn-k", o->knn.k, "Neighbours that vote (knn)")
      ->capture_default_str()
      ->check(positive_number());
  cmd->add_option("--knn-temperature", o->knn.temperature, "Vote weight exp(similarity / T) (knn)")
      ->capture_default_str()
      ->check(positive_number());
  cmd->add_option("--train", o->train, "Labelled training split")->capture_default_str();
  cmd->add_option("--test", o->test,
                  "Test split; classes are matched by name when they are not the training split's")
      ->capture_default_str();
  cmd->add_option("--transfer", o->transfer,
                  "Another labelled dataset to test the same probe on (classes matched by name, those "
                  "without a counterpart left out and listed)");
  cmd->add_option("--labels-per-class", o->labels_per_class,
                  "Fit the probe on N labelled images per class of --train, drawn with --seed (0 = all)")
      ->check(non_negative_number());
  cmd->add_option("--layer", o->layer,
                  "linear, knn: the encoder layer the features are read at (a bad name lists them; default "
                  "the last, the encoder's output), or best: the layer whose features score best on a "
                  "held-out fifth of --train");
  add_skip_bad_images_flag(*cmd, o->skip_bad_images);
  cmd->add_option("--out", o->out_dir, "Directory for results.json");
  cmd->add_option("--image-size", o->image_size,
                  "Input size for random:MODEL (a trained encoder keeps its own; images of another size "
                  "are resized to it)")
      ->capture_default_str()
      ->check(positive_number());
  cmd->add_option(
      "--input-size", o->input_size,
      "Run a trained encoder at this input size instead of its own (e.g. the patch task's encoder "
      "on whole images; refused when its weights depend on the size)");
  // The trained part's settings: the linear probe's, or with --protocol finetune the fine-tuning run's.
  const EvalOptions defaults;
  cmd->add_option("--epochs", o->probe.epochs,
                  str_cat("Epochs of the linear probe (default ", defaults.probe.epochs,
                          ") or of fine-tuning (", defaults.finetune.epochs, ")"))
      ->check(positive_number());
  cmd->add_option("--batch-size", o->probe.batch_size,
                  str_cat("Batch size of the linear probe (", defaults.probe.batch_size,
                          ") or of fine-tuning (", defaults.finetune.batch_size, ")"))
      ->check(positive_number());
  cmd->add_option("--lr", o->probe.lr,
                  str_cat("Adam learning rate of the linear probe (", defaults.probe.lr,
                          ") or peak of fine-tuning's (", defaults.finetune.lr, ")"))
      ->check(non_negative_number());
  cmd->add_option("--weight-decay", o->probe.weight_decay,
                  str_cat("Weight decay of the linear probe (", defaults.probe.weight_decay,
                          ") or of fine-tuning (", defaults.finetune.weight_decay, ")"))
      ->check(non_negative_number());
  cmd->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  add_workers_flag(*cmd, o->workers);
  add_device_flag(*cmd, o->device,
                  "Where the encoder runs (and fine-tuning trains; the probe is fitted on the host)");
  add_threads_flag(*cmd, *threads);
  cmd->callback([o, threads, cmd]() {
    set_threads(*threads);
    if (o->protocol == "finetune") {  // the flags given apply to fine-tuning instead of the probe
      if (cmd->count("--epochs")) o->finetune.epochs = o->probe.epochs;
      if (cmd->count("--batch-size")) o->finetune.batch_size = o->probe.batch_size;
      if (cmd->count("--lr")) o->finetune.lr = o->probe.lr;
      if (cmd->count("--weight-decay")) o->finetune.weight_decay = o->probe.weight_decay;
    }
    const nlohmann::json r = evaluate(*o);
    std::printf("\n%-8s %8s %8s   (%s protocol, encoder %s)\n", "split", "top1", "top5", o->protocol.c_str(),
                o->encoder.c_str());
    for (const std::string split : {"train", "test", "transfer"}) {
      if (!r["splits"].contains(split)) continue;
      const nlohmann::json& m = r["splits"][split];
      std::printf("%-8s %7.2f%% %7.2f%%   %s, %lld images\n", split.c_str(), 100 * m["top1"].get<double>(),
                  100 * m["top5"].get<double>(), m["data"].get<std::string>().c_str(),
                  (long long)m["images"].get<int64_t>());
      if (m.contains("classes_left_out")) {
        std::printf("         classes left out: %s (training side), %s (this split)\n",
                    m["classes_left_out"]["train"].dump().c_str(),
                    m["classes_left_out"]["split"].dump().c_str());
      }
    }
    if (!o->out_dir.empty()) std::printf("results in %s/results.json\n", o->out_dir.c_str());
  });
}

}  // namespace ssl::apps
