// The registry of pre-training methods (each name gives its model and the loader settings it needs), and the
// classification loss the methods that classify share.
#include <cmath>

#include "data/image_grid.h"
#include "nn/checkpoint.h"
#include "ssl/context_encoder.h"
#include "ssl/evaluate.h"
#include "ssl/features.h"
#include "ssl/linear_probe.h"
#include "ssl/pretrain.h"
#include "ssl/relative_patch.h"
#include "ssl/rotation.h"
#include "ssl/simclr.h"
#include "ssl/supervised.h"

namespace ssl {

Tensor PretextMethod::classification_loss(const Tensor& logits, const Tensor& labels) {
  Tensor ce = cross_entropy(logits, labels);
  if (std::isfinite(ce.item())) last_accuracy = topk_accuracy(logits.detach(), labels).top1;
  return ce;
}

namespace {

// The context encoder's fill: the mean colour of the training images, normalised as the loader normalises
// them. Measured on at most 2,000 images spread through the dataset (within a few thousandths of the whole
// dataset's mean, and quick on a dataset of large files).
std::vector<float> context_fill(const data::Dataset& data) {
  const data::DatasetStats st = data::dataset_stats(data, 2000, /*spread=*/true);
  if (st.count == 0) return {0, 0, 0};  // no images: the loader refuses the run
  SSL_CHECK(st.channels == 3, "context: the images of ", data.name(), " have ", st.channels,
            " channels; the context encoder reconstructs 3");
  const data::LoaderOptions lo = image_loader_options(1, 0, 0);
  std::vector<float> fill(3);
  for (size_t c = 0; c < 3; ++c) {
    const float mean = lo.mean[lo.mean.size() == 1 ? 0 : c],
                stddev = lo.stddev[lo.stddev.size() == 1 ? 0 : c];
    fill[c] = (float(st.mean[c]) - mean) / stddev;
  }
  return fill;
}

}  // namespace

std::vector<std::string> method_names() {
  return {"simclr", "rotation", "supervised", "finetune", "context", "patch"};
}

MethodSetup make_method(const PretrainOptions& o, const data::Dataset& data) {
  SSL_CHECK(o.init.empty() || o.method == "finetune", "pretrain: --init is the start of --method finetune; ",
            o.method, " trains a fresh encoder (given --init ", o.init, ")");
  MethodSetup m;
  if (o.method == "simclr") {
    m.model = std::make_shared<SimCLR>(nn::make_encoder(o.model, o.image_size), o.simclr);
    m.augmentation = data::simclr_augment(o.image_size, o.simclr.crop_min_scale, o.simclr.colour_strength);
    m.views = 2;
    m.drop_last = true;  // NT-Xent's positives assume a full batch of pairs
    return m;
  }
  if (o.method == "patch") {
    // The encoder sees patches, not whole images: it is built for the patch side. The grid is laid out
    // for --image-size images; datasets of another size are resized to it first.
    const patch::GridParams grid = patch_grid_params(o.patch, o.image_size);
    nn::EncoderPtr encoder;
    try {
      encoder = nn::make_encoder(o.model, grid.patch);
    } catch (const Error& e) {  // the model's "image size" is the patch side here: say where it came from
      throw Error(str_cat(
          e.what(), " (the encoder's input is the patch, ", grid.patch,
          " px: ", o.patch.patch > 0 ? "--patch-size" : str_cat("derived from --image-size ", o.image_size),
          "; choose another --patch-size or --image-size)"));
    }
    m.model = std::make_shared<RelativePatch>(encoder, grid, o.patch.colour);
    m.augmentation = data::resize_if_needed(data, o.image_size);
    m.drop_last = false;
    return m;
  }
  if (o.method == "rotation") {
    m.model = std::make_shared<RotationPrediction>(nn::make_encoder(o.model, o.image_size));
    m.augmentation = data::crop_flip_augment(o.image_size);
    return m;
  }
  if (o.method == "context") {
    SSL_CHECK(o.context.objective == kContextObjective,
              "context: the run was made with an earlier objective (", o.context.objective,
              "), which this version no longer trains (", kContextObjective,
              "); start it again in another directory");
    m.model = std::make_shared<ContextEncoder>(nn::make_encoder(o.model, o.image_size), o.context,
                                               context_fill(data));
    m.augmentation = data::crop_flip_augment(o.image_size);
    m.drop_last = false;  // the loss is a per-pixel average: any batch size works
    return m;
  }
  if (o.method == "supervised" || o.method == "finetune") {
    SSL_CHECK((o.method == "finetune") == !o.init.empty(), "pretrain: ",
              o.method == "finetune"
                  ? "finetune needs --init DIR (a pretrained encoder)"
                  : "supervised trains a fresh encoder; use --method finetune with --init");
    if (!o.init.empty()) {
      nn::Metadata meta = encoder_metadata(o.init);
      SSL_CHECK(meta["model"] == o.model, "pretrain: the encoder in ", o.init, " is a ", meta["model"],
                ", but --model is ", o.model, "; pass --model ", meta["model"]);
    }
    nn::EncoderPtr encoder = o.init.empty() ? nn::make_encoder(o.model, o.image_size) : load_encoder(o.init);
    SSL_CHECK(encoder->image_size == o.image_size, "pretrain: the encoder in ", o.init, " takes ",
              encoder->image_size, " px images, but --image-size is ", o.image_size);
    // Every image needs its label; checked here, before the run directory is written.
    const int64_t unlabelled = data::first_unlabelled(data);
    SSL_CHECK(unlabelled < 0, "pretrain: ", o.method, " trains on labels, but image ", unlabelled, " of ",
              data.name(),
              " is unlabelled; train on a labelled split or a label budget (SPEC@N, not SPEC@N,rest)");
    m.model = std::make_shared<SupervisedClassifier>(encoder, data.num_classes());
    m.augmentation = data::crop_flip_augment(o.image_size);
    m.drop_last = false;
    return m;
  }
  SSL_CHECK(o.method != "sgan",
            "pretrain: the SGAN trains with train_sgan (ssl/sgan.h), which takes its labelled, ",
            "unlabelled and test sets");
  std::string known;
  for (const std::string& name : method_names()) known += (known.empty() ? "" : ", ") + name;
  throw Error(str_cat("pretrain: unknown method '", o.method, "'; available: ", known, ", sgan"));
}

}  // namespace ssl
