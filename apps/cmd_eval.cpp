// `ssl eval`: an encoder's linear probe, kNN or fine-tuning accuracy on every split given.
#include <cstdio>
#include <string>

#include "apps/commands.h"
#include "apps/flags.h"
#include "core/error.h"
#include "ssl/evaluate.h"

namespace ssl::apps {

void add_eval_command(CLI::App& app) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "Evaluate an encoder: linear probe or kNN on frozen features, or fine-tuning");
  cmd->add_option("--encoder", o->encoder,
                  "A pretrain or sgan output directory, or random:MODEL for an untrained encoder")
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
      ->check(image_side());
  cmd->add_option(
         "--input-size", o->input_size,
         "Run a trained encoder at this input size instead of its own (e.g. the patch task's encoder "
         "on whole images; refused when the model is built differently at that size; 0 = its own)")
      ->check(image_side(/*zero_ok=*/true));
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
  add_seed_flag(*cmd, o->seed, "Random seed");
  add_workers_flag(*cmd, o->workers);
  add_device_flag(*cmd, o->device,
                  "Where the encoder runs (and fine-tuning trains; the probe is fitted on the host)");
  add_threads_flag(*cmd, o->threads, /*resumable=*/true);
  cmd->callback([o, cmd]() {
    // A flag the protocol does not read is refused, not ignored.
    for (const char* flag : {"--knn-k", "--knn-temperature"})
      SSL_CHECK(cmd->count(flag) == 0 || o->protocol == "knn", flag,
                " is an option of --protocol knn; --protocol ", o->protocol, " does not read it");
    for (const char* flag : {"--epochs", "--batch-size", "--lr", "--weight-decay"})
      SSL_CHECK(cmd->count(flag) == 0 || o->protocol != "knn", flag,
                " sets the training of the linear probe or of fine-tuning; --protocol knn trains nothing");
    SSL_CHECK(cmd->count("--image-size") == 0 || is_random_encoder(o->encoder),
              "--image-size sets the input size of random:MODEL; the trained encoder ", o->encoder,
              " keeps its own (--input-size runs it at another)");
    set_threads(o->threads);
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
      // Classes matched by name (they may differ in case or order) with none left out need no line.
      if (m.contains("classes_left_out") &&
          !(m["classes_left_out"]["train"].empty() && m["classes_left_out"]["split"].empty())) {
        std::printf("         classes left out: %s (training side), %s (this split)\n",
                    m["classes_left_out"]["train"].dump().c_str(),
                    m["classes_left_out"]["split"].dump().c_str());
      }
    }
    if (!o->out_dir.empty()) std::printf("results in %s/results.json\n", o->out_dir.c_str());
  });
}

}  // namespace ssl::apps
