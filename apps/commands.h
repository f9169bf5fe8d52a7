// The subcommands of the `ssl` program; each registers its options on the CLI11 app and runs.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

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
// The SGAN is one of the pretraining methods, with flags of its own (its labelled, unlabelled and test sets):
// `ssl pretrain --method sgan ...` is `ssl sgan ...`, and so is `ssl pretrain --resume DIR ...` where DIR's
// config.json names the SGAN. `args` is the whole command line, the program's name first; any other line is
// returned as it is.
std::vector<std::string> route_pretrain_sgan(const std::vector<std::string>& args);

}  // namespace ssl::apps
