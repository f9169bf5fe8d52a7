// What every training command (ssl pretrain, ssl sgan) does the same way around its checkpoint: the state it
// saves after each epoch, the metrics files written beside it and, on --resume, reading that state back and
// checking the options against it.
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "core/error.h"
#include "nn/module.h"
#include "nn/train_state.h"

namespace ssl {

// The file in a run's directory that holds its training state, rewritten after every epoch.
inline constexpr const char* kCheckpointFile = "checkpoint.safetensors";

// Refuses to resume from `checkpoint_path` when it does not exist, saying why a run may have none.
void check_checkpoint_to_resume(const std::string& checkpoint_path);

// The training state saved in `checkpoint_path` (format `format`), read from the file's header, for a run
// about to resume: refused when there is no checkpoint or when the saved run has already completed `epochs`
// epochs (more than `epochs` when `complete_ok`: a run that only has its scoring left). Called before
// anything is built or config.json is overwritten.
nn::TrainState read_state_to_resume(const std::string& checkpoint_path, const std::string& format,
                                    int64_t epochs, bool complete_ok = false);

// The options a checkpoint's `state` (read from `path`) was saved with: its config, read back by `from_json`
// (pretrain_options_from_json, sgan_options_from_json). A malformed config is an ssl::Error naming `path`.
template <class Options>
Options saved_options(const nn::TrainState& state, const std::string& path,
                      Options (*from_json)(const nlohmann::json&)) {
  try {
    return from_json(nlohmann::json::parse(state.config_json));
  } catch (const nlohmann::json::exception& e) {
    throw Error(str_cat(path, ": malformed config in the metadata (", e.what(), ")"));
  }
}

// The options saved in DIR/checkpoint.safetensors (training state format `format`), with out_dir = DIR and
// resume = true: what --resume DIR starts from (ssl/pretrain.h: resume_options, ssl/sgan.h:
// sgan_resume_options).
template <class Options>
Options options_to_resume(const std::string& dir, const std::string& format,
                          Options (*from_json)(const nlohmann::json&)) {
  const std::string path = dir + "/" + kCheckpointFile;
  check_checkpoint_to_resume(path);
  Options o = saved_options(nn::read_train_state(path, format), path, from_json);
  o.out_dir = dir;
  o.resume = true;
  return o;
}

// A new run (no --resume) is refused, naming `command`, when `checkpoint_path` exists: the directory holds a
// run, which the new one would overwrite epoch by epoch.
void check_no_run_to_overwrite(const std::string& command, const std::string& checkpoint_path);

// Held by a training command while it reads and writes its run directory, so that a second process (a run
// started with the same --out while the first is in its first epoch, or a resume of a run still training) is
// refused rather than mixing its files with the first's. An flock(2) on the directory itself: nothing is left
// behind, and a process that dies releases it.
class RunDirectoryLock {
 public:
  // Locks the existing directory `dir`; throws ssl::Error naming `command` when another process holds it.
  RunDirectoryLock(const std::string& command, const std::string& dir);
  ~RunDirectoryLock();
  RunDirectoryLock(const RunDirectoryLock&) = delete;
  RunDirectoryLock& operator=(const RunDirectoryLock&) = delete;

 private:
  int fd_ = -1;
};

// Before an epoch's outputs are saved: throws ssl::Error, naming `command`, the epoch and the first tensor of
// `model` (parameter or buffer) or state tensor of `optimizers` that holds a NaN or an infinity. The loss is
// checked before every step, but the last step of an epoch can still blow the weights up, and Adam's second
// moments can overflow while the weights stay finite (the run then no longer learns); this keeps them out of
// the checkpoint, so the previous epoch's stays (a resume refuses a checkpoint that holds any).
void check_state_finite(const std::string& command, const nn::Module& model,
                        const std::vector<nn::NamedOptimizer>& optimizers, int64_t epoch);

// The training state to save after `epoch` completed epochs and `step` optimizer steps: the run's config and
// metrics, and where the default generator stands.
nn::TrainState state_after_epoch(int64_t epoch, int64_t step, const nlohmann::json& config,
                                 const nlohmann::json& metrics);

// After each epoch, the metrics of every epoch so far, each file written whole (atomically) to `dir`:
// metrics.jsonl, one object of the array `records` a line, and metrics.csv, `csv` (a header line, then a row
// an epoch).
void write_metrics_files(const std::string& dir, const nlohmann::json& records, const std::string& csv);

// After a restore from `saved` (read from `source`): checks that its metrics hold one record per completed
// epoch, then puts the default generator back where the run left it (the models were built with it).
void continue_after(const nn::TrainState& saved, size_t metrics_records, const std::string& source);

// Throws ssl::Error naming `source` and listing every option (a key of `saved`) whose value in `requested`
// differs, except those in `may_change` (options that alter neither the epochs done nor those to come).
void check_resume_agrees(const nlohmann::json& saved, const nlohmann::json& requested,
                         const std::set<std::string>& may_change, const std::string& source);

// A resumed run needs the data it started with: its schedule was laid out over that data's steps per epoch,
// and its loaders' orders over its images; and a finished run kept by `ssl compare` or `eval --protocol
// finetune` stands for a run on the data given only if it was trained on it. Throws ssl::Error naming
// `source` and every count in `now` (images, steps per epoch) that differs from the one saved in
// `saved_config`'s "data_counts" (written by the run from the same counts); a run saved before counts were
// recorded has none, and nothing is compared. Only counts: images replaced by as many others go unnoticed
// (reading them all again would cost an epoch).
void check_same_data(const nlohmann::json& saved_config, const nlohmann::json& now,
                     const std::string& source);

// A finished run is kept only with the encoder it saved last: out_dir/encoder.safetensors must read back
// whole (its digest verified) and its metadata name `method` and `epoch`; a file damaged, or copied from
// another run, is refused.
void check_kept_encoder(const std::string& out_dir, const std::string& method, int64_t epoch);

// The compute thread count (kernels/compute_threads.h) a run resuming from `source` asks for: `requested`
// when given (> 0), else `saved`, the count the run recorded (0 when it recorded none). When both are given
// and differ, says (when `show`) that the continuation adds in another order than the run would have, so its
// numbers will not be an uninterrupted run's bit for bit.
int threads_to_resume_with(int requested, int saved, const std::string& source, bool show);

// For runs that are kept when finished and continued when not (ssl compare, ssl eval --protocol finetune):
// the run in `out_dir` (`what`), planned for `saved_epochs` and `done` of them completed, is refused unless
// it was planned for the `requested` epochs. A run of another length would otherwise be reported as this one
// (its learning-rate schedule is laid out over its own epochs), or stretched to it midway.
void check_same_plan(const std::string& what, const std::string& out_dir, int64_t saved_epochs, int64_t done,
                     int64_t requested);

// The encoder a run starts from (pretrain --init, sgan --init-discriminator): its spec and the fingerprint
// of its file (ssl/evaluate.h: encoder_fingerprint; empty for none, or for a file that is missing).
struct StartingEncoder {
  std::string path, fingerprint;
};

// Whether `now` is the encoder the run started from (`saved`) under another name: the same directory reached
// by another path ("out/simclr", "out//simclr", "./out/simclr"), or a copy with the same fingerprint (a
// study's directory moved or copied). A resume then takes now's path for the saved one, so that a spelling is
// not refused as another starting encoder.
bool same_starting_encoder(const StartingEncoder& saved, const StartingEncoder& now);

// Refuses (naming `source`) to resume a run that started from the encoder at `now.path` when that encoder's
// file is missing or has changed since (`saved`, as the run recorded it): the run would go on from other
// weights than it started with. Nothing to check for a run that recorded no fingerprint (made before they
// were recorded, or without an encoder), or that named another encoder (an option that differs, refused by
// check_resume_agrees).
void check_init_unchanged(const std::string& source, const StartingEncoder& saved,
                          const StartingEncoder& now);

// For runs that are kept when finished and continued when not (ssl compare): when the run in `out_dir`
// (`what`) started from the encoder at `now.path` and that encoder's file has changed since, removes the run
// so that it is made again, says so when `show`, and returns true. Refuses an encoder whose file is missing
// (the run is kept); returns false where check_init_unchanged has nothing to check.
bool discard_if_init_changed(const std::string& what, const std::string& out_dir,
                             const StartingEncoder& saved, const StartingEncoder& now, bool show);

}  // namespace ssl
