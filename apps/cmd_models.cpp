// `ssl models`: every model the project can build, with its parameter count and forward FLOPs at a size.
#include <cstdio>
#include <functional>

#include "apps/commands.h"
#include "apps/flags.h"
#include "nn/flops.h"
#include "nn/mobilenet.h"
#include "nn/models.h"
#include "nn/resnet.h"
#include "nn/sgan.h"

namespace ssl::apps {

namespace {

std::string table_row(const std::string& name, const std::string& note, nn::Module& model,
                      const Shape& input) {
  const double gflops = double(nn::forward_cost(model, input).flops()) / 1e9;
  char row[256];
  std::snprintf(row, sizeof row, "%-20s %14lld %12.3f   %s\n", name.c_str(),
                (long long)model.parameter_count(), gflops, note.c_str());
  return row;
}

}  // namespace

void add_models_command(CLI::App& app) {
  auto size = std::make_shared<int64_t>(32);
  auto classes = std::make_shared<int64_t>(10);
  CLI::App* cmd =
      app.add_subcommand("models", "List the models with their parameter counts and forward FLOPs");
  // The FLOPs are counted from one forward pass of each model, whose activations at 2048 px take 5 GB.
  cmd->add_option("--image-size", *size, "Square input size in pixels, up to 1024")
      ->capture_default_str()
      ->check(number_in(1, 1024));
  cmd->add_option("--classes", *classes, "Classes of the classifier heads and the SGAN discriminator")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd->callback([size, classes]() {
    const int64_t s = *size, k = *classes;
    // Every row is made before anything is printed; a model that cannot take the size is listed below the
    // table with the reason.
    std::string rows, not_listed;
    const auto add_row = [&](const std::string& name, const std::function<std::string()>& row) {
      try {
        rows += row();
      } catch (const Error& e) {
        std::string why = e.what();
        if (why.starts_with(name + ": ")) why.erase(0, name.size() + 2);  // the model is named already
        not_listed += str_cat("(", name, " not listed: ", why, ")\n");
      }
    };
    const Shape image{1, 3, s, s};
    for (const std::string& name : nn::encoder_names()) {
      add_row(name, [&] {
        nn::EncoderPtr e = nn::make_encoder(name, s);
        return table_row(name, "encoder, " + std::to_string(e->feature_dim) + " features", *e, image);
      });
    }
    add_row("mobilenet_v1+fc", [&] {
      return table_row("mobilenet_v1+fc", "classifier", *nn::mobilenet_v1_classifier(k, s), image);
    });
    add_row("resnet18+fc", [&] {
      auto resnet = nn::resnet18_classifier(k, s <= 64 ? nn::ResNetStem::cifar : nn::ResNetStem::imagenet);
      return table_row("resnet18+fc", "classifier", *resnet, image);
    });
    const bool sgan_size = s >= 16 && s <= 256 && (s & (s - 1)) == 0;  // what the SGAN networks take
    if (sgan_size) {
      auto generator = nn::sgan_generator(100, s);
      rows += table_row("sgan_generator", "latent 100 -> image", *generator, {1, 100});
      auto discriminator = nn::sgan_discriminator(k, s);
      rows += table_row("sgan_discriminator", std::to_string(k + 1) + " logits (K + fake)", *discriminator,
                        image);
    }
    std::printf("%-20s %14s %12s   (input %lldx%lld, %lld classes; FLOPs = 2 x multiply-adds, one image)\n%s",
                "model", "parameters", "GFLOP fwd", (long long)s, (long long)s, (long long)k, rows.c_str());
    std::printf("%s", not_listed.c_str());
    if (!sgan_size)
      std::printf("(the SGAN networks take powers of two from 16 to 256 px: not listed at %lld px)\n",
                  (long long)s);
  });
}

}  // namespace ssl::apps
