// The options several commands share (--threads, --workers, --device, --skip-bad-images, --resume's
// merge) and the checks of flag values whose errors say what was expected and what was found.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace ssl::apps {

// --threads: sets the OpenMP thread count for the compute kernels (0 = leave the default).
void set_threads(int threads);
// --resume of a training command: the saved run's options (`saved`, as JSON) with the options given on the
// command line (`given`, the same JSON for the parsed flags) put over them, for every flag in
// `config_key_of_flag`; any other flag given, except --out and --resume, is refused naming
// `command`. Also refuses an --out that is not the resumed directory.
nlohmann::json merge_resume_options(const CLI::App& cmd, const char* command, nlohmann::json saved,
                                    const nlohmann::json& given,
                                    const std::map<std::string, std::string>& config_key_of_flag,
                                    const std::string& resume_dir, const std::string& out_dir);

// --skip-bad-images, shared by every command that opens datasets.
void add_skip_bad_images_flag(CLI::App& cmd, bool& skip_bad_images);
// The most --threads and --workers a run may ask for: far above any machine's cores, and low enough that
// the threads can be started.
constexpr int kMaxThreads = 1024;
// --threads (compute threads for the kernels, 0 = the OpenMP default; for a command that continues training
// runs, `resumable`, 0 also means that a run continued keeps the count it recorded) and --workers
// (data-loading threads, 0 = batches built on the training thread), shared by every command that has them;
// counts below 0 or above kMaxThreads are refused.
void add_threads_flag(CLI::App& cmd, int& threads, bool resumable = false);
void add_workers_flag(CLI::App& cmd, int& workers);
// --seed, described by `help`; a negative seed is refused (unsigned parsing would wrap -1 to 2^64 - 1).
void add_seed_flag(CLI::App& cmd, uint64_t& seed, const std::string& help);
// --device: where `what` runs ("Where to train", ...): cpu, cuda or cuda:N.
void add_device_flag(CLI::App& cmd, std::string& device, const std::string& what);

// Checks of numeric flags whose errors say what was expected and what was found ("--epochs: expected a
// number above 0, found 0"); CLI11's PositiveNumber names a range up to 1.8e308 instead.
CLI::Validator positive_number();
CLI::Validator non_negative_number();
// A number from lo to hi, both included (CLI11's Range lets NaN through).
CLI::Validator number_in(double lo, double hi);
// A coefficient at least 0 and below 1 (Adam's beta1, a loss's share of a weighted sum).
CLI::Validator fraction_below_one();
// A share of a whole (a side or an area as a fraction of the image's): above 0 and at most 1.
CLI::Validator fraction_above_zero();
// An image side in pixels: 1 to data::kMaxImageSide (0 too when `zero_ok`, a flag's "unchanged").
CLI::Validator image_side(bool zero_ok = false);
// Checks that a file flag's value ends in `extension` (".npy"): "expected a file name ending in .npy, found
// 'feats.txt'".
CLI::Validator file_name_ending(const std::string& extension);
// Refuses an empty value (`--resume ""` would otherwise read as no --resume at all), naming `what` it
// expects.
CLI::Validator not_empty(const std::string& what);

// Makes every whole-number option of `app` and its subcommands accept plain decimal only, within 64 bits
// (signed, or unsigned for an unsigned option; CLI11 refuses what does not fit a narrower type). CLI11 2.1
// parses integers with base 0, so "010" would be 8 and "0x10" 16, and a value beyond 64 bits would silently
// become the largest one.
void require_decimal_integers(CLI::App& app);

}  // namespace ssl::apps
