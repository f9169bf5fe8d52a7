// `ssl embed`: the frozen features of a dataset in NumPy's format, for scikit-learn, UMAP and friends.
//   ssl embed --encoder runs/simclr --data synthetic:test --out feats.npy
// writes feats.npy (float32 [N, F]) and feats_labels.npy (int64 [N], -1 = unlabelled); --inputs-out also
// writes the normalised images the encoder saw (float32 [N, 3, S, S]), e.g. to check the same encoder
// loaded elsewhere (tools/load_in_pytorch.py).
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "apps/commands.h"
#include "apps/flags.h"
#include "data/registry.h"
#include "nn/checkpoint.h"
#include "ssl/evaluate.h"
#include "ssl/features.h"
#include "ssl/npy.h"

namespace ssl::apps {
namespace {

struct EmbedOptions {
  std::string encoder, data = "synthetic:test", out, inputs_out, layer;
  int64_t image_size = 32;
  uint64_t seed = 0;
  int workers = 1, threads = 0;
  std::string device = "cpu";
  bool skip_bad_images = false;
};

// "feats.npy" -> "feats_labels.npy" (--out is checked to end in .npy).
std::string labels_path(const std::string& out) { return out.substr(0, out.size() - 4) + "_labels.npy"; }

void run_embed(const EmbedOptions& o) {
  // Three files, three names: one written over another would be reported as written and hold other data.
  namespace fs = std::filesystem;
  const auto same_file = [](const std::string& a, const std::string& b) {
    return fs::weakly_canonical(fs::absolute(a)) == fs::weakly_canonical(fs::absolute(b));
  };
  if (!o.inputs_out.empty()) {
    SSL_CHECK(!same_file(o.inputs_out, o.out) && !same_file(o.inputs_out, labels_path(o.out)),
              "embed: --inputs-out ", o.inputs_out, " is the features file or its labels file (", o.out, ", ",
              labels_path(o.out), "); give it a name of its own");
  }
  // Tried first, so that an output that cannot be written (or that is a directory) fails before any work.
  for (const std::string& file : {o.out, labels_path(o.out), o.inputs_out}) {
    if (file.empty()) continue;
    std::error_code ec;
    SSL_CHECK(!std::filesystem::is_directory(file, ec), "embed: ", file,
              " is a directory; expected a file name to write");
    nn::check_can_write(file);
  }
  const Device device = Device::parse_present(o.device);
  nn::EncoderPtr encoder = load_encoder(o.encoder, o.seed, o.image_size);
  encoder->to(device);
  data::OpenOptions open;
  open.image_size = encoder->image_size;
  open.skip_bad_images = o.skip_bad_images;
  const auto dataset = data::open_dataset(o.data, open);
  Tensor inputs;
  const int64_t layer = o.layer.empty() ? -1 : int64_t(encoder->layer_index(o.layer));
  const Features f = compute_features(*encoder, *dataset, 512, o.workers, true,
                                      o.inputs_out.empty() ? nullptr : &inputs, layer);
  write_npy(o.out, f.x);
  write_npy(labels_path(o.out), f.labels);
  std::printf("wrote %s (%lld x %lld features) and %s\n", o.out.c_str(), (long long)f.x.size(0),
              (long long)f.x.size(1), labels_path(o.out).c_str());
  if (!o.inputs_out.empty()) {
    write_npy(o.inputs_out, inputs);
    std::printf("wrote %s (the encoder's inputs, %s)\n", o.inputs_out.c_str(),
                str_cat(inputs.shape()).c_str());
  }
}

}  // namespace

void add_embed_command(CLI::App& app) {
  auto o = std::make_shared<EmbedOptions>();
  CLI::App* cmd = app.add_subcommand("embed", "Write the frozen features of a dataset as .npy files");
  cmd->add_option("--encoder", o->encoder, "A pretrain or sgan output directory, or random:MODEL")
      ->required();
  cmd->add_option("--data", o->data, "Dataset spec (a bad spec lists them all)")->capture_default_str();
  cmd->add_option("--out", o->out, "Features file (.npy); labels go to <name>_labels.npy")
      ->required()
      ->check(file_name_ending(".npy"));
  cmd->add_option("--inputs-out", o->inputs_out, "Also write the normalised input images (.npy)")
      ->check(file_name_ending(".npy"));
  cmd->add_option(
      "--layer", o->layer,
      "The encoder layer to read (a bad name lists them; default the last, the encoder's output)");
  cmd->add_option("--image-size", o->image_size, "Input size for random:MODEL")
      ->capture_default_str()
      ->check(image_side());
  add_seed_flag(*cmd, o->seed, "Seed of random:MODEL");
  add_skip_bad_images_flag(*cmd, o->skip_bad_images);
  add_workers_flag(*cmd, o->workers);
  add_device_flag(*cmd, o->device, "Where the encoder runs");
  add_threads_flag(*cmd, o->threads);
  cmd->callback([o, cmd]() {
    for (const char* flag : {"--image-size", "--seed"})
      SSL_CHECK(cmd->count(flag) == 0 || is_random_encoder(o->encoder), flag,
                " applies to random:MODEL; the trained encoder ", o->encoder, " keeps its own");
    set_threads(o->threads);
    run_embed(*o);
  });
}

}  // namespace ssl::apps
