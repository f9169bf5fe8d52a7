#include "ssl/resume_check.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "core/rng.h"
#include "nn/checkpoint.h"

namespace ssl {

void check_checkpoint_to_resume(const std::string& checkpoint_path) {
  SSL_CHECK(std::filesystem::exists(checkpoint_path), "cannot resume: no checkpoint '", checkpoint_path,
            "' (one is written as each epoch ends: a run stopped in its first epoch has none, and is started "
            "again without --resume)");
}

nn::TrainState read_state_to_resume(const std::string& checkpoint_path, const std::string& format,
                                    int64_t epochs, bool complete_ok) {
  check_checkpoint_to_resume(checkpoint_path);
  nn::TrainState state = nn::read_train_state(checkpoint_path, format);
  SSL_CHECK(state.epoch < epochs || (complete_ok && state.epoch == epochs), checkpoint_path,
            ": the run has already completed ", state.epoch, " epochs; pass --epochs above ", state.epoch,
            " to train further");
  return state;
}

void check_same_plan(const std::string& what, const std::string& out_dir, int64_t saved_epochs, int64_t done,
                     int64_t requested) {
  SSL_CHECK(saved_epochs == requested, what, ": ", out_dir,
            " holds a run planned for epochs = ", saved_epochs, " (", done,
            " done) but this one asks for epochs = ", requested,
            "; give the same number of epochs, or another --out (or remove the old run)");
}

void check_same_data(const nlohmann::json& saved_config, const nlohmann::json& now,
                     const std::string& source) {
  if (!saved_config.contains("data_counts")) return;
  const nlohmann::json& saved = saved_config.at("data_counts");
  std::string changes;
  for (const auto& [key, value] : now.items()) {
    if (saved.contains(key) && saved.at(key) != value)
      changes +=
          str_cat("\n  ", key, ": ", saved.at(key).dump(), " when the run started, ", value.dump(), " now");
  }
  SSL_CHECK(changes.empty(), source, ": the run's data has changed since it started:", changes,
            "\ngive it the data it started with, or start a new run in another directory");
}

void check_kept_encoder(const std::string& out_dir, const std::string& method, int64_t epoch) {
  const std::string path = out_dir + "/encoder.safetensors";
  nn::Metadata meta;
  nn::load_safetensors(path, &meta);
  const std::string saved_method = meta.count("method") ? meta["method"] : "?";
  const std::string saved_epoch = meta.count("epoch") ? meta["epoch"] : "?";
  SSL_CHECK(saved_method == method && saved_epoch == std::to_string(epoch), path, " holds the encoder of ",
            saved_method, " after epoch ", saved_epoch, ", not the one this ", method,
            " run saved after epoch ", epoch, "; remove ", out_dir, " and run again");
}

int threads_to_resume_with(int requested, int saved, const std::string& source, bool show) {
  if (requested <= 0) return saved;
  if (show && saved > 0 && requested != saved)
    std::printf(
        "%s: the run used %d compute threads and continues with %d: the kernels add their partial sums in "
        "another order, so from here its numbers will differ in the last bits from an uninterrupted run's\n",
        source.c_str(), saved, requested);
  return requested;
}

void check_no_run_to_overwrite(const std::string& command, const std::string& checkpoint_path) {
  SSL_CHECK(!std::filesystem::exists(checkpoint_path), command, ": '", checkpoint_path,
            "' holds a run already; continue it with --resume, or write the new run to another --out (or "
            "remove the old one)");
}

RunDirectoryLock::RunDirectoryLock(const std::string& command, const std::string& dir) {
  // A directory that cannot be opened or locked (a file system without locks) leaves the run unprotected
  // rather than stopped: the lock guards against a mistake, it is not needed to train.
  fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd_ < 0 || ::flock(fd_, LOCK_EX | LOCK_NB) == 0) return;
  const bool held_elsewhere = errno == EWOULDBLOCK;
  ::close(fd_);
  fd_ = -1;
  SSL_CHECK(!held_elsewhere, command, ": another process is training in ", dir,
            " (it holds the directory's lock); wait for it to finish, or choose another --out");
}

RunDirectoryLock::~RunDirectoryLock() {
  if (fd_ >= 0) ::close(fd_);  // which releases the lock
}

void check_state_finite(const std::string& command, const nn::Module& model,
                        const std::vector<nn::NamedOptimizer>& optimizers, int64_t epoch) {
  const char* diverged =
      "; the training diverged (try a lower --lr), and the last good checkpoint is left as it was";
  for (const auto& [name, t] : model.state()) {  // parameters and buffers (BatchNorm's running statistics)
    const int64_t at = first_non_finite(t);
    SSL_CHECK(at < 0, command, ": after epoch ", epoch, " '", name, "' holds ",
              t.detach().to(DType::f64).to_vector<double>()[size_t(at)], diverged);
  }
  for (const nn::NamedOptimizer& o : optimizers) {
    const std::string state = o.optimizer->non_finite_state();
    SSL_CHECK(state.empty(), command, ": after epoch ", epoch, " the ", o.name.empty() ? "" : o.name + " ",
              "optimizer's ", state, " holds a NaN or an infinity", diverged);
  }
}

nn::TrainState state_after_epoch(int64_t epoch, int64_t step, const nlohmann::json& config,
                                 const nlohmann::json& metrics) {
  nn::TrainState state;
  state.epoch = epoch;
  state.global_step = step;
  state.rng_seed = default_generator().seed();
  state.rng_streams_used = default_generator().streams_used();
  state.config_json = config.dump();
  state.metrics_json = metrics.dump();
  return state;
}

void write_metrics_files(const std::string& dir, const nlohmann::json& records, const std::string& csv) {
  std::string jsonl;
  for (const nlohmann::json& r : records) jsonl += r.dump() + "\n";
  nn::write_file_atomically(dir + "/metrics.jsonl", jsonl);
  nn::write_file_atomically(dir + "/metrics.csv", csv);
}

void continue_after(const nn::TrainState& saved, size_t metrics_records, const std::string& source) {
  SSL_CHECK(int64_t(metrics_records) == saved.epoch, source, ": ", metrics_records, " metrics records for ",
            saved.epoch, " completed epochs");
  default_generator().set_state(saved.rng_seed, saved.rng_streams_used);
}

void check_resume_agrees(const nlohmann::json& saved, const nlohmann::json& requested,
                         const std::set<std::string>& may_change, const std::string& source) {
  std::string conflicts;
  for (const auto& [key, value] : saved.items()) {
    if (may_change.count(key)) continue;
    // A key left out where it has no value (the fingerprint of a run without a starting encoder) is "none".
    if (!requested.contains(key) || requested.at(key) != value)
      conflicts += str_cat("\n  ", key, ": saved ", value.dump(), ", requested ",
                           requested.contains(key) ? requested.at(key).dump() : "none");
  }
  SSL_CHECK(conflicts.empty(), source,
            ": cannot resume with options that differ from the saved run's:", conflicts);
}

bool same_starting_encoder(const StartingEncoder& saved, const StartingEncoder& now) {
  if (saved.path.empty() || now.path.empty()) return saved.path == now.path;
  if (!saved.fingerprint.empty() && saved.fingerprint == now.fingerprint) return true;
  std::error_code ec;  // a path that does not exist (or "random:MODEL") is equivalent to nothing
  return saved.path == now.path || std::filesystem::equivalent(saved.path, now.path, ec);
}

namespace {
// Whether `now` is the encoder the run started from, at the same path, and the run recorded its fingerprint.
// Another encoder, or none, is an option that differs, which check_resume_agrees names.
bool same_recorded_encoder(const StartingEncoder& saved, const StartingEncoder& now) {
  return !saved.fingerprint.empty() && saved.path == now.path;
}
}  // namespace

void check_init_unchanged(const std::string& source, const StartingEncoder& saved,
                          const StartingEncoder& now) {
  if (!same_recorded_encoder(saved, now)) return;
  SSL_CHECK(!now.fingerprint.empty(), source, ": the run started from the encoder in ", now.path,
            ", which is missing now; put it back to resume the run, or start a new run in another directory");
  SSL_CHECK(saved.fingerprint == now.fingerprint, source, ": the encoder in ", now.path,
            " has changed since this run started from it (fingerprint ", saved.fingerprint, ", now ",
            now.fingerprint, "); start a new run in another directory");
}

bool discard_if_init_changed(const std::string& what, const std::string& out_dir,
                             const StartingEncoder& saved, const StartingEncoder& now, bool show) {
  if (!same_recorded_encoder(saved, now) || saved.fingerprint == now.fingerprint) return false;
  SSL_CHECK(!now.fingerprint.empty(), what, ": the run in ", out_dir, " started from the encoder in ",
            now.path,
            ", which is missing now; put it back, or remove the run to train it again from another");
  if (show)
    std::printf(
        "\n== %s: the encoder in %s has changed since the run in %s started from it; training it again\n",
        what.c_str(), now.path.c_str(), out_dir.c_str());
  {
    const RunDirectoryLock lock(what, out_dir);  // not while another process trains there
    std::filesystem::remove_all(out_dir);
  }
  return true;
}

}  // namespace ssl
