#include "ssl/evaluate.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <system_error>

#include <unistd.h>

#include "data/class_mapping.h"
#include "data/registry.h"
#include "kernels/common/philox.h"
#include "nn/checkpoint.h"
#include "ssl/features.h"
#include "ssl/json_file.h"
#include "ssl/knn.h"
#include "ssl/pretrain.h"
#include "ssl/supervised.h"

namespace ssl {

constexpr std::string_view kRandomEncoderPrefix = "random:";

bool is_random_encoder(const std::string& spec) { return spec.starts_with(kRandomEncoderPrefix); }

std::string random_encoder_model(const std::string& spec) {
  return is_random_encoder(spec) ? spec.substr(kRandomEncoderPrefix.size()) : "";
}

namespace {

// The labelled images the classifier is fitted on: --train, with the --labels-per-class budget when one is
// set.
std::string labelled_train_spec(const EvalOptions& o) {
  return o.labels_per_class > 0 ? str_cat(o.train, "@", o.labels_per_class, ",seed=", o.seed) : o.train;
}

}  // namespace

nn::Metadata encoder_metadata(const std::string& dir) {
  const std::string path = dir + "/encoder.safetensors";
  SSL_CHECK(std::filesystem::exists(path), "encoder '", dir,
            "': expected a pretrain or sgan output directory holding encoder.safetensors; '", path,
            "' does not exist");
  nn::Metadata meta = nn::read_safetensors_metadata(path);
  SSL_CHECK(meta.count("model") && meta.count("image_size"), path,
            ": metadata lacks 'model' or 'image_size'");
  return meta;
}

nn::EncoderPtr encoder_named_in(const std::string& path, const std::string& model, int64_t image_size) {
  try {
    return nn::make_encoder(model, image_size);
  } catch (const Error& e) {
    throw Error(str_cat(path, ": cannot build the encoder it holds (", model, " at ", image_size,
                        " px): ", e.what()));
  }
}

std::string encoder_fingerprint(const std::string& spec) {
  if (spec.empty() || is_random_encoder(spec)) return "";
  const std::string path = spec + "/encoder.safetensors";
  return std::filesystem::exists(path) ? nn::file_fingerprint(path) : "";
}

nn::EncoderPtr load_encoder(const std::string& spec, uint64_t seed, int64_t image_size, int64_t input_size) {
  if (is_random_encoder(spec)) {
    manual_seed(seed);
    return nn::make_encoder(random_encoder_model(spec), image_size);
  }
  const std::string path = spec + "/encoder.safetensors";
  nn::Metadata meta = encoder_metadata(spec);
  const int64_t trained_size = nn::metadata_integer(meta, "image_size", path);
  if (input_size > 0) {
    const std::string then = nn::size_dependent_design(meta["model"], trained_size);
    const std::string now = nn::size_dependent_design(meta["model"], input_size);
    SSL_CHECK(then == now, "encoder '", spec, "': ", meta["model"], " trained at ", trained_size,
              " px: ", then, "; at ", input_size, " px: ", now, ", another network for the same weights");
  }
  nn::EncoderPtr encoder = encoder_named_in(path, meta["model"], input_size > 0 ? input_size : trained_size);
  try {
    nn::load_module(path, *encoder);
  } catch (const Error& e) {
    if (input_size <= 0) throw;
    throw Error(str_cat(e.what(), " (the encoder was trained at ", meta["image_size"], " px and asked for ",
                        input_size, " px: its weights depend on the input size)"));
  }
  return encoder;
}

namespace {

// Scores of training classes outside `kept` set to the lowest value, so no prediction falls on them.
Tensor restrict_to_classes(const Tensor& scores, const std::vector<bool>& kept) {
  std::vector<float> s = scores.to_vector<float>();
  const size_t c = kept.size();
  for (size_t i = 0; i < s.size(); ++i) {
    if (!kept[i % c]) s[i] = std::numeric_limits<float>::lowest();
  }
  return Tensor::from_vector(s, scores.shape());
}

// Class scores [M, classes] of features [M, F]: the linear probe's, or the kNN votes.
using Scorer = std::function<Tensor(const Tensor&)>;

// Features, Top-1 and Top-5 of one split under the classifier built on `train_set` (both checked by
// check_evaluation_split).
nlohmann::json evaluate_split(nn::Encoder& encoder, size_t layer, const Scorer& scores_of,
                              const data::Dataset& train_set, std::shared_ptr<const data::Dataset> split,
                              const std::string& spec, const EvalOptions& o) {
  nlohmann::json out = {{"data", spec}};
  std::vector<bool> kept(size_t(train_set.num_classes()), true);
  if (split->class_names() != train_set.class_names()) {
    data::ClassMapping mapping = data::map_classes_by_name(*split, train_set);
    for (const std::string& name : mapping.unmatched_to) {
      const auto names = train_set.class_names();
      kept[size_t(std::find(names.begin(), names.end(), name) - names.begin())] = false;
    }
    out["classes_matched"] = mapping.matched_count();
    out["classes_left_out"] = {{"train", mapping.unmatched_to}, {"split", mapping.unmatched_from}};
    if (o.show_progress) {
      std::printf("%s: classes matched by name with %s\n%s\n", spec.c_str(), train_set.name().c_str(),
                  mapping.describe().c_str());
    }
    split = std::make_shared<data::RelabeledDataset>(split, std::move(mapping));
  }
  const Features f =
      compute_features(encoder, *split, 512, o.workers, o.show_progress, nullptr, int64_t(layer));
  const TopK t = topk_accuracy(restrict_to_classes(scores_of(f.x), kept), f.labels);
  out["top1"] = t.top1;
  out["top5"] = t.top5;
  out["images"] = split->size();
  return out;
}

// The classifier of protocol linear or knn fitted on (x, labels), as a scorer that owns it.
Scorer fit_frozen_classifier(const Tensor& x, const Tensor& labels, int64_t classes, const EvalOptions& o,
                             bool show_progress) {
  if (o.protocol == "knn") {
    auto knn = std::make_shared<KnnClassifier>(x, labels, classes, o.knn);
    return [knn](const Tensor& q) { return knn->scores(q); };
  }
  LinearProbeOptions options = o.probe;
  options.seed = o.seed;
  options.show_progress = show_progress;
  auto probe = std::make_shared<LinearProbe>(x, labels, classes, options);
  return [probe](const Tensor& q) { return probe->scores(q); };
}

}  // namespace

void check_evaluation_split(const data::Dataset& split, const std::string& spec, const std::string& role,
                            const data::Dataset* train) {
  const int64_t unlabelled = data::first_unlabelled(split);
  SSL_CHECK(unlabelled < 0, "eval: image ", unlabelled, " of ", role, " ", split.name(), " (", spec,
            ") is unlabelled; an evaluation split needs class labels (a labelled split, or a label budget "
            "SPEC@N, not SPEC@N,rest)");
  SSL_CHECK(split.size() > 0, "eval: ", role, " ", split.name(), " (", spec, ") holds no image");
  if (train && split.class_names() != train->class_names()) {
    const data::ClassMapping mapping = data::map_classes_by_name(split, *train);
    SSL_CHECK(mapping.matched_count() > 0, "eval: no class of ", role, " ", split.name(),
              " matches a class of ", train->name(), " by name:\n", mapping.describe());
  }
}

namespace {

// The rows of `set` split class by class: a fifth of each class's images (rounded down, but one of a class
// with two or more) held out, picked in an order shuffled by the seed, the rest to fit on. Both ascending.
void split_off_a_fifth_per_class(const data::Dataset& set, uint64_t seed, std::vector<int64_t>& fit_rows,
                                 std::vector<int64_t>& held_rows) {
  std::vector<std::vector<int64_t>> rows_of_class(size_t(set.num_classes()));
  for (int64_t i = 0; i < set.size(); ++i) rows_of_class[size_t(set.label(i))].push_back(i);
  for (std::vector<int64_t>& rows : rows_of_class) {
    std::sort(rows.begin(), rows.end(), [seed](int64_t a, int64_t b) {
      return rng::mix64(seed, uint64_t(a)) < rng::mix64(seed, uint64_t(b));
    });
    const size_t held = rows.size() < 2 ? 0 : std::max<size_t>(1, rows.size() / 5);
    held_rows.insert(held_rows.end(), rows.begin(), rows.begin() + ptrdiff_t(held));
    fit_rows.insert(fit_rows.end(), rows.begin() + ptrdiff_t(held), rows.end());
  }
  std::sort(fit_rows.begin(), fit_rows.end());
  std::sort(held_rows.begin(), held_rows.end());
}

}  // namespace

bool has_a_class_of_two(const data::Dataset& set) {
  std::vector<int64_t> per_class(size_t(set.num_classes()), 0);
  for (int64_t i = 0; i < set.size(); ++i)
    if (set.label(i) >= 0 && ++per_class[size_t(set.label(i))] >= 2) return true;
  return false;
}

namespace {

// Layer "best": each layer's training features, a classifier fitted on four fifths of them and scored on
// the other fifth (split_off_a_fifth_per_class, so that every class with two images or more is in both
// parts). Returns the training features of the layer that scores best (the shallower on a tie) and sets
// *layer to it.
Features features_at_best_layer(nn::Encoder& encoder, const data::Dataset& train_set, const EvalOptions& o,
                                size_t* layer, nlohmann::json* selection) {
  SSL_CHECK(has_a_class_of_two(train_set), "eval --layer best: the training split ", train_set.name(),
            " has ", train_set.size(), " images, no class with two to hold one out");
  const std::vector<std::string> names = encoder.layer_names();
  std::vector<int64_t> fit_rows, held_rows;
  split_off_a_fifth_per_class(train_set, o.seed, fit_rows, held_rows);
  const Tensor fit_index = Tensor::from_vector(fit_rows, {int64_t(fit_rows.size())});
  const Tensor held_index = Tensor::from_vector(held_rows, {int64_t(held_rows.size())});
  Features best;
  double best_top1 = -1;
  nlohmann::json top1;
  for (size_t l = 0; l < names.size(); ++l) {
    Features f = compute_features(encoder, train_set, 512, o.workers, o.show_progress, nullptr, int64_t(l));
    const Scorer scores_of =
        fit_frozen_classifier(index_select(f.x, 0, fit_index), index_select(f.labels, 0, fit_index),
                              train_set.num_classes(), o, /*show_progress=*/false);
    const double t =
        topk_accuracy(scores_of(index_select(f.x, 0, held_index)), index_select(f.labels, 0, held_index))
            .top1;
    top1[names[l]] = t;
    if (o.show_progress)
      std::printf("layer %s (%lld features): held-out Top-1 %.2f %%\n", names[l].c_str(),
                  static_cast<long long>(f.x.size(1)), 100 * t);
    if (t > best_top1) {
      best_top1 = t;
      best = std::move(f);
      *layer = l;
    }
  }
  *selection = {{"held_out", held_rows.size()}, {"top1", top1}};
  return best;
}

// The directory a fine-tuning run without an output directory trains in; removed when it goes out of scope.
struct ScratchDir {
  std::string path;
  ~ScratchDir() {
    std::error_code ignored;
    if (!path.empty()) std::filesystem::remove_all(path, ignored);
  }
};

// Fine-tuning without --out trains in the system's temporary directory, in ssl_eval_finetune_<pid>_<k>,
// removed when the evaluation ends; one whose process was killed is left there, and removed by the next.
constexpr const char* kScratchPrefix = "ssl_eval_finetune_";

void remove_scratch_dirs_of_gone_processes() {
  std::error_code error;
  for (std::filesystem::directory_iterator it(std::filesystem::temp_directory_path(error), error), end;
       !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (!name.starts_with(kScratchPrefix)) continue;
    const std::string rest = name.substr(std::string(kScratchPrefix).size());
    std::error_code ignored;  // another user's, or in use: left alone
    if (rest.find('_') != std::string::npos && nn::names_a_gone_process(rest.substr(0, rest.find('_'))))
      std::filesystem::remove_all(it->path(), ignored);
  }
}

// Protocol "finetune": trains encoder + linear head on o.train in run_dir with the runner of ssl/pretrain.h
// (method finetune from the encoder's weights; supervised, from a seeded initialisation, for random:MODEL),
// continuing or keeping a run already there. Returns the trained classifier; *info describes the run.
std::shared_ptr<SupervisedClassifier> finetune(const EvalOptions& o, const std::string& model,
                                               int64_t image_size, const std::string& run_dir,
                                               nlohmann::json* info) {
  PretrainOptions p;
  p.method = is_random_encoder(o.encoder) ? "supervised" : "finetune";
  p.init = is_random_encoder(o.encoder) ? "" : o.encoder;
  p.model = model;
  p.image_size = image_size;
  p.data = labelled_train_spec(o);
  p.out_dir = run_dir;
  p.epochs = o.finetune.epochs;
  p.batch_size = o.finetune.batch_size;
  p.lr = o.finetune.lr;
  p.weight_decay = o.finetune.weight_decay;
  p.seed = o.seed;
  p.workers = o.workers;
  p.threads = o.threads;
  p.device = o.device;
  p.skip_bad_images = o.skip_bad_images;
  p.show_progress = o.show_progress;
  pretrain_or_continue(p);  // which checks that a run already there agrees with these options
  *info = {{"run", run_dir},     {"method", p.method},
           {"epochs", p.epochs}, {"batch_size", p.batch_size},
           {"lr", p.lr},         {"weight_decay", p.weight_decay}};
  return load_classifier(run_dir);
}

}  // namespace

namespace {

// Refuses, before any work, an --out that is a file or that holds a results.json which is not an
// evaluation's: a training run's (ssl compare reads it back) or a study's would be replaced.
void check_eval_output(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  SSL_CHECK(!fs::exists(dir, ec) || fs::is_directory(dir, ec), "eval --out ", dir,
            ": expected a directory, found a file");
  const std::string results = dir + "/results.json";
  if (!fs::exists(results, ec)) return;
  bool evaluation = false;
  try {
    evaluation = read_json_object(results).contains("protocol");
  } catch (const Error&) {
  }
  SSL_CHECK(evaluation, "eval --out ", dir, ": ", results,
            " is not an evaluation's results (a training run's or a study's?) and would be replaced; choose "
            "another --out");
}

// The options that cannot work together, and an --out that would replace what it should not.
void check_eval_options(const EvalOptions& o) {
  SSL_CHECK(o.protocol == "linear" || o.protocol == "knn" || o.protocol == "finetune",
            "eval: unknown protocol '", o.protocol, "'; available: linear, knn, finetune");
  SSL_CHECK(o.protocol != "finetune" || o.input_size == 0,
            "eval: --input-size applies to a frozen encoder; the finetune protocol trains the encoder at "
            "its own size, and got --input-size ",
            o.input_size);
  SSL_CHECK(!is_random_encoder(o.encoder) || o.input_size == 0,
            "eval: --input-size runs a trained encoder at another size; ", o.encoder,
            " is built at --image-size (", o.image_size, " px), and got --input-size ", o.input_size);
  SSL_CHECK(o.protocol != "finetune" || o.layer.empty(),
            "eval: --layer applies to a frozen encoder (linear, knn); the finetune protocol trains the "
            "whole encoder, and got --layer ",
            o.layer);
  if (!o.out_dir.empty()) check_eval_output(o.out_dir);
}

// The splits an evaluation reads, every one opened and checked before any training or feature pass, so
// that a mistyped path, an unlabelled split or one without a class in common fails at once.
struct EvalSplits {
  std::shared_ptr<const data::Dataset> train, test, transfer;  // transfer: null without --transfer
};

EvalSplits open_eval_splits(const EvalOptions& o, int64_t image_size) {
  data::OpenOptions open;
  open.image_size = image_size;
  open.skip_bad_images = o.skip_bad_images;
  data::OpenOptions open_train = open;
  open_train.labels_per_class = o.labels_per_class;
  open_train.label_seed = o.seed;
  EvalSplits s;
  s.train = data::open_dataset(o.train, open_train);
  s.test = data::open_dataset(o.test, open);
  if (!o.transfer.empty()) s.transfer = data::open_dataset(o.transfer, open);
  check_evaluation_split(*s.train, o.train, "the training split");
  check_evaluation_split(*s.test, o.test, "--test", s.train.get());
  if (s.transfer) check_evaluation_split(*s.transfer, o.transfer, "--transfer", s.train.get());
  return s;
}

}  // namespace

nlohmann::json evaluate(const EvalOptions& o) {
  check_eval_options(o);
  const Device device = Device::parse_present(o.device);
  // finetune builds its encoder by training, after the training split is known to be usable.
  std::string model = random_encoder_model(o.encoder);
  int64_t image_size = o.image_size;
  nn::EncoderPtr encoder;
  if (o.protocol == "finetune") {
    if (!is_random_encoder(o.encoder)) {
      nn::Metadata meta = encoder_metadata(o.encoder);
      model = meta["model"];
      image_size = nn::metadata_integer(meta, "image_size", o.encoder + "/encoder.safetensors");
    }
  } else {
    encoder = load_encoder(o.encoder, o.seed, o.image_size, o.input_size);
    image_size = encoder->image_size;
  }
  const EvalSplits sets = open_eval_splits(o, image_size);
  // Made and tried once the encoder and the data are known good, not after the features and the probe.
  if (!o.out_dir.empty()) nn::check_can_write(o.out_dir + "/results.json");
  const data::Dataset& train_set = *sets.train;
  const int64_t classes = train_set.num_classes();

  std::shared_ptr<SupervisedClassifier> classifier;
  ScratchDir scratch;
  nlohmann::json finetune_info;
  if (o.protocol == "finetune") {
    std::string run_dir = o.out_dir + "/finetune";
    if (o.out_dir.empty()) {
      remove_scratch_dirs_of_gone_processes();
      static int runs = 0;
      scratch.path = run_dir =
          (std::filesystem::temp_directory_path() / str_cat(kScratchPrefix, ::getpid(), "_", runs++))
              .string();
      std::filesystem::remove_all(run_dir);
    }
    try {
      classifier = finetune(o, model, image_size, run_dir, &finetune_info);
    } catch (const Error& e) {
      // The runner speaks as `pretrain`; say which command's training it was, and where.
      throw Error(str_cat("eval --protocol finetune, training in ",
                          scratch.path.empty() ? run_dir : "a temporary directory (removed)", ": ",
                          e.what()));
    }
    encoder = classifier->encoder;
  }
  encoder->to(device);
  // The layer the features are read at (fine-tuning's head sits on the last, the encoder's output).
  size_t layer = encoder->layer_names().size() - 1;
  nlohmann::json layer_selection;
  Features train;
  if (o.layer == "best") {
    train = features_at_best_layer(*encoder, train_set, o, &layer, &layer_selection);
  } else {
    if (!o.layer.empty()) layer = encoder->layer_index(o.layer);
    train = compute_features(*encoder, train_set, 512, o.workers, o.show_progress, nullptr, int64_t(layer));
  }

  Scorer scores_of;
  TopK tr;
  if (o.protocol == "finetune") {
    scores_of = [&](const Tensor& x) {
      NoGradGuard no_grad;
      return classifier->head->forward(x);
    };
    tr = topk_accuracy(scores_of(train.x), train.labels);
  } else if (o.protocol == "knn") {
    auto knn = std::make_shared<KnnClassifier>(train.x, train.labels, classes, o.knn);
    scores_of = [knn](const Tensor& x) { return knn->scores(x); };
    tr = topk_accuracy(knn->scores(train.x, /*exclude_self=*/true), train.labels);  // leave-one-out
  } else {
    scores_of = fit_frozen_classifier(train.x, train.labels, classes, o, o.show_progress);
    tr = topk_accuracy(scores_of(train.x), train.labels);
  }

  nlohmann::json splits;
  splits["train"] = {
      {"top1", tr.top1}, {"top5", tr.top5}, {"data", labelled_train_spec(o)}, {"images", train_set.size()}};
  splits["test"] = evaluate_split(*encoder, layer, scores_of, train_set, sets.test, o.test, o);
  if (sets.transfer)
    splits["transfer"] = evaluate_split(*encoder, layer, scores_of, train_set, sets.transfer, o.transfer, o);
  nlohmann::json result = {
      {"protocol", o.protocol}, {"encoder", o.encoder}, {"feature_dim", train.x.size(1)}, {"splits", splits}};
  if (o.protocol != "finetune") result["layer"] = encoder->layer_names()[layer];
  if (!layer_selection.is_null()) result["layer_selection"] = layer_selection;
  if (o.protocol == "knn") {
    // k counts the neighbours that voted on the test splits: no more than the training images (one fewer
    // for the train split's leave-one-out scores).
    const int64_t k = std::min<int64_t>(o.knn.k, train.x.size(0));
    result["knn"] = {{"k", k}, {"temperature", o.knn.temperature}};
    if (k != o.knn.k) result["knn"]["k_requested"] = o.knn.k;
  }
  if (classifier) result["finetune"] = finetune_info;
  if (!o.out_dir.empty()) {
    nn::make_directories(o.out_dir);
    nn::write_file_atomically(o.out_dir + "/results.json", result.dump(2) + "\n");
  }
  return result;
}

}  // namespace ssl
