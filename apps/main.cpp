// ssl: self-supervised representation learning from the command line.
//   ssl pretrain --method simclr --data synthetic --model convnet2 --epochs N --out DIR
//   ssl eval --encoder DIR --protocol linear --train synthetic:train --test synthetic:test --out DIR2
//   ssl bench [--json]
//   ssl data stats SPEC | ssl data show SPEC --out FILE.png
//   ssl embed --encoder DIR --data SPEC --out FEATS.npy
//   ssl compare --study a|b [--data SPEC --test SPEC --epochs N] --out DIR
//   ssl sgan --labelled SPEC@N --unlabelled SPEC@N,rest --test SPEC --epochs N --out DIR
//     (or ssl pretrain --method sgan with the same flags)
//   ssl models [--image-size S] [--classes K]
#include <cstdio>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "apps/flags.h"
#include "core/error.h"
#include "core/utf8.h"

namespace {
// CLI11 answers a mistyped command ("ssl pretrian", "ssl data stat") with "A subcommand is required": this
// names the word and the commands it could have been instead. Only commands that require a subcommand are
// checked; the first word that is a flag ends the walk.
void check_command_words(const CLI::App& app, int argc, const char* const* argv) {
  const CLI::App* at = &app;
  for (int i = 1; i < argc && argv[i][0] != '-' && at->get_require_subcommand_min() > 0; ++i) {
    const CLI::App* next = nullptr;
    std::string names;
    for (const CLI::App* sub : at->get_subcommands({})) {
      if (sub->check_name(argv[i])) next = sub;
      names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    SSL_CHECK(next != nullptr, "unknown command '", argv[i], "'; expected one of: ", names);
    at = next;
  }
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ssl: self-supervised and semi-supervised image representation learning"};
  app.require_subcommand(1);
  ssl::apps::add_pretrain_command(app);
  ssl::apps::add_eval_command(app);
  ssl::apps::add_bench_command(app);
  ssl::apps::add_data_command(app);
  ssl::apps::add_embed_command(app);
  ssl::apps::add_compare_command(app);
  ssl::apps::add_models_command(app);
  ssl::apps::add_sgan_command(app);
  ssl::apps::require_decimal_integers(app);
  const std::vector<std::string> args = ssl::apps::route_pretrain_sgan({argv, argv + argc});
  std::vector<const char*> arg_pointers;
  for (const std::string& arg : args) arg_pointers.push_back(arg.c_str());
  try {
    for (size_t i = 1; i < args.size(); ++i) ssl::check_utf8(args[i], ssl::str_cat("argument ", i));
    check_command_words(app, (int)args.size(), arg_pointers.data());
    app.parse((int)args.size(), arg_pointers.data());
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const ssl::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "unexpected error: %s\n", e.what());
    return 2;
  }
  return 0;
}
