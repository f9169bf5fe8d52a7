// ssl: self-supervised representation learning from the command line.
//   ssl pretrain --method simclr --data synthetic --model convnet2 --epochs N --out DIR
//   ssl eval --encoder DIR --protocol linear --train synthetic:train --test synthetic:test --out DIR2
//   ssl bench [--json]
//   ssl data stats SPEC | ssl data show SPEC --out FILE.png
//   ssl embed --encoder DIR --data SPEC --out FEATS.npy
//   ssl compare --study a|b [--data SPEC --test SPEC --epochs N] --out DIR
//   ssl sgan --labelled SPEC@N --unlabelled SPEC@N,rest --test SPEC --epochs N --out DIR
//   ssl models [--image-size S] [--classes K]
#include <cstdio>

#include "apps/commands.h"
#include "apps/flags.h"
#include "core/error.h"

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
  try {
    app.parse(argc, argv);
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
