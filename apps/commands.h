// The subcommands of the `ssl` program; each registers its options on the CLI11 app and runs.
#pragma once

#include <CLI/CLI.hpp>

namespace ssl::apps {

void add_pretrain_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_bench_command(CLI::App& app);
// `ssl bench kernels`, a subcommand of bench (apps/cmd_bench_kernels.cpp).
void add_bench_kernels_command(CLI::App& bench);
void add_data_command(CLI::App& app);
void add_models_command(CLI::App& app);
void add_embed_command(CLI::App& app);
void add_compare_command(CLI::App& app);
void add_sgan_command(CLI::App& app);

}  // namespace ssl::apps
