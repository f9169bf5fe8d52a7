// `ssl pretrain`: a self-supervised method (or the supervised baseline) trained on a dataset, resumable.
#include <cstdio>
#include <map>
#include <string>

#include "apps/commands.h"
#include "apps/flags.h"
#include "ssl/pretrain.h"

namespace ssl::apps {

namespace {
// The pretrain options stored in config.json, by flag: on --resume, those given override the saved values
// (and pretrain refuses any that differ, except epochs, workers, device and threads).
const std::map<std::string, std::string> kPretrainConfigKeyOfFlag = {
    {"--method", "method"},
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
    {"--threads", "threads"},
    {"--device", "device"},
    {"--max-steps", "max_steps_per_epoch"}};
// Options only one method reads (the context mask's, only one mask mode): given for another they would be
// recorded in config.json, hold back a later --resume that differs, and do nothing.
struct MethodFlag {
  const char* flag;
  const char* method;
  const char* mask = nullptr;  // context: "centre" or "blocks"
};
const MethodFlag kMethodFlags[] = {{"--temperature", "simclr"},
                                   {"--head-hidden", "simclr"},
                                   {"--head-out", "simclr"},
                                   {"--cross-view-only", "simclr"},
                                   {"--crop-min-scale", "simclr"},
                                   {"--colour-strength", "simclr"},
                                   {"--mask", "context"},
                                   {"--hole-fraction", "context", "centre"},
                                   {"--block-fraction", "context", "blocks"},
                                   {"--mask-coverage", "context", "blocks"},
                                   {"--mask-overlap", "context"},
                                   {"--overlap-weight", "context"},
                                   {"--adversarial-weight", "context"},
                                   {"--patch-size", "patch"},
                                   {"--patch-gap", "patch"},
                                   {"--patch-jitter", "patch"},
                                   {"--patch-colour", "patch"}};

void check_method_flags(const CLI::App& cmd, const PretrainOptions& o) {
  const bool blocks = o.context.mask.mode == data::MaskOptions::Mode::random_blocks;
  for (const MethodFlag& f : kMethodFlags) {
    if (cmd.count(f.flag) == 0) continue;
    SSL_CHECK(o.method == f.method, f.flag, " is an option of --method ", f.method, "; --method ", o.method,
              " does not read it");
    SSL_CHECK(!f.mask || (std::string(f.mask) == "blocks") == blocks, f.flag, " applies to --mask ", f.mask,
              "; this run's mask is ", blocks ? "blocks" : "centre");
  }
}
}  // namespace

void add_pretrain_command(CLI::App& app) {
  auto o = std::make_shared<PretrainOptions>();
  CLI::App* cmd = app.add_subcommand(
      "pretrain",
      "Pre-train an encoder with a self-supervised method (--method sgan: the semi-supervised GAN, as sgan)");
  cmd->add_option(
         "--method", o->method,
         "simclr (two views, NT-Xent), rotation (4-way rotation prediction), supervised (encoder + "
         "linear head on the labels of --data), finetune (the same from the encoder of --init), "
         "context (inpaint a masked region), patch (relative patch position, 8 classes) or sgan (the "
         "semi-supervised GAN: this is then `ssl sgan`, with its flags; see ssl sgan --help)")
      ->capture_default_str();
  cmd->add_option("--init", o->init,
                  "finetune: a pretrain or sgan output directory whose encoder is the start");
  cmd->add_option(
      "--joint-probe", o->joint_probe,
      "simclr: labelled data (e.g. synthetic:train@20) for a linear probe trained jointly on detached "
      "features; its accuracy is logged per epoch as train_top1");
  cmd->add_option(
         "--data", o->data,
         "Training images (labels used by supervised and finetune only): synthetic[:train|test|transfer], or "
         "a dataset spec; a bad spec "
         "lists them all")
      ->capture_default_str();
  cmd->add_option("--model", o->model,
                  "Encoder architecture: convnet2, mobilenet_v1 (mobilenet_v1:ALPHA for a width multiplier), "
                  "resnet18 or sgan_trunk (the SGAN discriminator's three convolutions)")
      ->capture_default_str();
  cmd->add_option("--epochs", o->epochs, "Epochs")
      ->capture_default_str()
      ->check(CLI::Range(int64_t(1), kMaxEpochs));
  cmd->add_option("--out", o->out_dir, "Output directory")->capture_default_str();
  cmd->add_option(
         "--batch-size", o->batch_size,
         "Images per batch (simclr: two views of each; rotation: each in its four rotations). simclr "
         "and rotation drop a short last batch, the other methods only a last batch of one image")
      ->capture_default_str()
      ->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--image-size", o->image_size, "Input size in pixels")
      ->capture_default_str()
      ->check(image_side());
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
  cmd->add_option("--warmup-epochs", o->warmup_epochs, "Warm-up epochs (at most half of the run's steps)")
      ->capture_default_str()
      ->check(non_negative_number());
  // Similarities over the temperature are float logits: bounded so that they stay far from overflow.
  cmd->add_option("--temperature", o->simclr.temperature, "NT-Xent temperature")
      ->capture_default_str()
      ->check(number_in(1e-4, 1e4));
  cmd->add_option("--head-hidden", o->simclr.head_hidden, "Projection head hidden width")
      ->capture_default_str()
      ->check(number_in(1, 1 << 16));
  cmd->add_option("--head-out", o->simclr.head_out, "Projection width")
      ->capture_default_str()
      ->check(number_in(1, 1 << 16));
  cmd->add_option("--crop-min-scale", o->simclr.crop_min_scale,
                  "simclr: smallest area of the random resized crop, as a fraction of the image")
      ->capture_default_str()
      ->check(number_in(0.01, 1.0));
  cmd->add_option(
         "--colour-strength", o->simclr.colour_strength,
         "simclr: colour jitter strength s (brightness, contrast, saturation 0.8 s; hue 0.2 s; p = 0.8)")
      ->capture_default_str()
      ->check(number_in(0.0, 2.5));
  cmd->add_flag("--cross-view-only", o->simclr.cross_view_only,
                "NT-Xent over the N×N cross-view similarities only (default: all 2N−1 others)");
  cmd->add_option_function<std::string>(
         "--mask", [o](const std::string& mode) { o->context.mask.mode = parse_mask_mode(mode); },
         "context: the hidden region, centre (one centred square hole, the default) or blocks (random "
         "square blocks)")
      ->check(CLI::IsMember({"centre", "center", "blocks"}));
  cmd->add_option("--hole-fraction", o->context.mask.hole_fraction,
                  "context, centre mask: the hole's side as a fraction of the image's")
      ->capture_default_str()
      ->check(fraction_above_zero());
  cmd->add_option("--block-fraction", o->context.mask.block_fraction,
                  "context, blocks mask: each block's side as a fraction of the image's")
      ->capture_default_str()
      ->check(fraction_above_zero());
  cmd->add_option(
         "--mask-coverage", o->context.mask.coverage,
         "context, blocks mask: add blocks (at most 64) until this fraction of the image is covered; "
         "a fraction 64 blocks do not reach on average is refused")
      ->capture_default_str()
      ->check(fraction_above_zero());
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
      ->capture_default_str()
      ->check(fraction_below_one());
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
  add_seed_flag(*cmd, o->seed, "Random seed");
  add_skip_bad_images_flag(*cmd, o->skip_bad_images);
  add_workers_flag(*cmd, o->workers);
  add_device_flag(*cmd, o->device, "Where to train");
  add_threads_flag(*cmd, o->threads, /*resumable=*/true);
  cmd->add_option("--max-steps", o->max_steps_per_epoch, "Stop each epoch after this many steps (0 = all)")
      ->check(non_negative_number());
  auto resume = std::make_shared<std::string>();
  cmd->add_option(
         "--resume", *resume,
         "Continue the run in DIR from DIR/checkpoint.safetensors (written after every epoch): options "
         "come from its config; others given here must agree, except --epochs (to train longer; a cosine or "
         "step schedule is then laid out over the new total), --workers, --device and --threads (the run's "
         "own count by default: another changes the last bits from there on)")
      ->check(not_empty("a run directory"));
  cmd->callback([o, resume, cmd]() {
    if (!resume->empty()) {
      // Options left out take the saved run's values; options given must agree with them (checked by
      // pretrain), so only --epochs, --workers, --device and --threads can change on resume.
      const nlohmann::json merged =
          merge_resume_options(*cmd, "pretrain", pretrain_options_json(resume_options(*resume)),
                               pretrain_options_json(*o), kPretrainConfigKeyOfFlag, *resume, o->out_dir);
      const bool show_progress = o->show_progress;
      *o = pretrain_options_from_json(merged);
      o->out_dir = *resume;
      o->resume = true;
      o->show_progress = show_progress;
      std::printf("resuming %s (%lld epochs in all)\n", resume->c_str(), (long long)o->epochs);
      std::fflush(stdout);  // before pretrain's own output and errors
    }
    check_method_flags(*cmd, *o);
    const auto metrics = pretrain(*o);
    std::printf("pretrained %s/%s for %lld epochs: final loss %.4f; encoder in %s/encoder.safetensors\n",
                o->method.c_str(), o->model.c_str(), (long long)o->epochs, metrics.back().loss,
                o->out_dir.c_str());
  });
}

}  // namespace ssl::apps
