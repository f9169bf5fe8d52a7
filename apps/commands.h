// The subcommands of the `ssl` program; each registers its options on the CLI11 app and runs.
#pragma once

#include <CLI/CLI.hpp>

namespace ssl::apps {

void add_pretrain_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_data_command(CLI::App& app);
void add_models_command(CLI::App& app);
void add_embed_command(CLI::App& app);
void add_compare_command(CLI::App& app);

// --threads: sets the OpenMP thread count for the compute kernels (0 = leave the default).
void set_threads(int threads);
// --skip-bad-images, shared by every command that opens datasets.
void add_skip_bad_images_flag(CLI::App& cmd, bool& skip_bad_images);

}  // namespace ssl::apps
