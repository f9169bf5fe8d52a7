// `ssl data stats SPEC` and `ssl data show SPEC`: look at a dataset before training on it.
//   ssl data stats synthetic:train               count, images per class, per-channel mean and std
//   ssl data show synthetic --count 32 --augment simclr --out views.png
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "apps/flags.h"
#include "core/error.h"
#include "data/image_grid.h"
#include "data/registry.h"
#include "data/transforms.h"
#include "kernels/common/philox.h"
#include "nn/checkpoint.h"

namespace ssl::apps {
namespace {

struct StatsOptions {
  std::string spec;
  int64_t limit = 0;
  int threads = 0;
  bool skip_bad_images = false;
};

struct ShowOptions {
  std::string spec;
  int64_t count = 16;
  std::string augment = "none";
  uint64_t seed = 0;
  bool skip_bad_images = false;
  int64_t size = 0;     // augmentation output size; 0 = the images' height
  int64_t columns = 0;  // 0 = square-ish
  int64_t scale = 0;    // 0 = enough to make tiles at least 64 px
  std::string out;
};

void print_classes(const std::vector<std::string>& names, const std::vector<int64_t>* counts) {
  for (size_t k = 0; k < names.size(); ++k) {
    if (counts) {
      std::printf("  %3zu  %-20s %8lld\n", k, names[k].c_str(), (long long)(*counts)[k]);
    } else {
      std::printf("  %3zu  %s\n", k, names[k].c_str());
    }
  }
}

// Opens a spec with --skip-bad-images applied.
std::unique_ptr<data::Dataset> open_spec(const std::string& spec, bool skip_bad_images) {
  data::OpenOptions open;
  open.skip_bad_images = skip_bad_images;
  return data::open_dataset(spec, open);
}

void run_stats(const StatsOptions& o) {
  const auto ds = open_spec(o.spec, o.skip_bad_images);
  SSL_CHECK(ds->size() > 0, ds->name(), " has no images");
  const data::Image first = ds->image(0);
  const data::DatasetStats st = data::dataset_stats(*ds, o.limit);
  std::printf("%s\n", ds->name().c_str());
  std::printf("images: %lld%s, first %lldx%lldx%lld (HxWxC)\n", (long long)st.count,
              st.count < ds->size() ? str_cat(" of ", ds->size()).c_str() : "", (long long)first.h,
              (long long)first.w, (long long)first.c);
  std::printf("classes: %lld\n", (long long)ds->num_classes());
  print_classes(ds->class_names(), &st.class_counts);
  if (st.unlabelled > 0) std::printf("unlabelled: %lld\n", (long long)st.unlabelled);
  std::printf("mean (pixels in [0, 1]):");
  for (double m : st.mean) std::printf(" %.4f", m);
  std::printf("\nstd  (pixels in [0, 1]):");
  for (double s : st.stddev) std::printf(" %.4f", s);
  std::printf("\n");
}

void run_show(const ShowOptions& o) {
  const auto ds = open_spec(o.spec, o.skip_bad_images);
  SSL_CHECK(ds->size() > 0, ds->name(), " has no images");
  nn::make_parent_directories(o.out);
  const int64_t n = std::min(o.count, ds->size());
  std::unique_ptr<data::Transform> augment;
  if (o.augment == "simclr") augment = data::simclr_augment(o.size > 0 ? o.size : ds->image(0).h);

  std::vector<data::Image> images;
  std::vector<int64_t> labels;
  int64_t tallest = 0;
  for (int64_t i = 0; i < n; ++i) {
    data::Image img = ds->image(i);
    if (augment) {
      // One stream per image, so image i looks the same whatever --count is.
      rng::Stream stream(o.seed, rng::mix64(uint64_t(i)));
      img = augment->apply(img, stream);
    }
    tallest = std::max(tallest, img.h);
    images.push_back(std::move(img));
    labels.push_back(ds->label(i));
  }
  data::ImageGridOptions g;
  g.columns = o.columns;
  g.scale = o.scale > 0 ? o.scale : std::max<int64_t>(1, (64 + tallest - 1) / std::max<int64_t>(1, tallest));
  const data::Image grid = data::make_image_grid(images, labels, g);
  data::write_png(o.out, grid);

  std::printf("%s: wrote %lld %s images to %s (%lldx%lld px)\n", ds->name().c_str(), (long long)n,
              augment ? "augmented (simclr)" : "decoded", o.out.c_str(), (long long)grid.w,
              (long long)grid.h);
  std::printf("labels under each tile (index: class; '-' = unlabelled):\n");
  print_classes(ds->class_names(), nullptr);
}

}  // namespace

void add_data_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("data", "Inspect a dataset: statistics, or a picture of its images");
  cmd->require_subcommand(1);

  auto so = std::make_shared<StatsOptions>();
  CLI::App* stats = cmd->add_subcommand("stats", "Count, images per class, per-channel mean/std in [0, 1]");
  stats->add_option("spec", so->spec, "Dataset spec, e.g. synthetic:train (a bad spec lists them all)")
      ->required();
  stats->add_option("--limit", so->limit, "Look at the first N images only (0 = all)")
      ->capture_default_str()
      ->check(non_negative_number());
  add_threads_flag(*stats, so->threads);
  add_skip_bad_images_flag(*stats, so->skip_bad_images);
  stats->callback([so]() {
    set_threads(so->threads);
    run_stats(*so);
  });

  auto wo = std::make_shared<ShowOptions>();
  CLI::App* show = cmd->add_subcommand("show", "Write a labelled grid of the first images as a PNG");
  show->add_option("spec", wo->spec, "Dataset spec, e.g. synthetic:train (a bad spec lists them all)")
      ->required();
  show->add_option("--count", wo->count, "Images to show")->capture_default_str()->check(CLI::Range(1, 4096));
  show->add_option("--augment", wo->augment, "none (decoded images) or simclr (one augmented view each)")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "simclr"}));
  add_seed_flag(*show, wo->seed, "Augmentation seed");
  show->add_option("--size", wo->size, "Augmented image size (0 = the images' height)")
      ->capture_default_str()
      ->check(CLI::Range(0, 4096));
  show->add_option("--columns", wo->columns, "Tiles per row (0 = about square)")
      ->capture_default_str()
      ->check(CLI::Range(0, 4096));
  show->add_option("--scale", wo->scale, "Pixel magnification (0 = tiles of at least 64 px)")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
  show->add_option("--out", wo->out, "Output PNG file")->required()->check(file_name_ending(".png"));
  add_skip_bad_images_flag(*show, wo->skip_bad_images);
  show->callback([wo, show]() {
    for (const char* flag : {"--size", "--seed"}) {
      SSL_CHECK(
          wo->augment == "simclr" || show->count(flag) == 0, "data show: ", flag,
          " applies to the augmented views (--augment simclr); without it the images are shown as decoded");
    }
    run_show(*wo);
  });
}

}  // namespace ssl::apps
