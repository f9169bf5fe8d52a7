// --device cuda on a machine without a usable GPU: every runner stops at once with an error that says so
// (the GPU suite, tests/gpu/test_methods.cpp, runs the same paths where a GPU is present).
#include <doctest/doctest.h>

#include "core/error.h"
#include "kernels/device_memory.h"
#include "ssl/compare.h"
#include "ssl/evaluate.h"
#include "ssl/pretrain.h"
#include "ssl/sgan.h"

using namespace ssl;

TEST_CASE("runners asked for a CUDA device that is not there say so before training") {
  CHECK_THROWS_WITH_AS(Device::parse_present("cuda:x"),
                       doctest::Contains("expected 'cpu', 'cuda' or 'cuda:N'"), ssl::Error);
  CHECK(Device::parse_present("cpu") == Device::cpu());
  if (kernels::cuda::cuda_is_available()) {
    MESSAGE("skipped: a CUDA device is present (tests/gpu/test_methods.cpp trains on it)");
    return;
  }
  // Built with CUDA: "device 0 requested but 0 CUDA device(s) are present"; without: "no CUDA backend".
  const auto says_cuda = doctest::Contains("CUDA");
  CHECK_THROWS_WITH_AS(Device::parse_present("cuda:1"), says_cuda, ssl::Error);

  PretrainOptions p;
  p.device = "cuda";
  p.out_dir = "";  // never written: the device is checked first
  CHECK_THROWS_WITH_AS(pretrain(p), says_cuda, ssl::Error);

  EvalOptions e;
  e.encoder = "random:convnet2";
  e.device = "cuda";
  e.show_progress = false;
  CHECK_THROWS_WITH_AS(evaluate(e), says_cuda, ssl::Error);

  SganOptions g;
  g.device = "cuda:0";
  g.show_progress = false;
  g.out_dir = "";  // never written: the device is checked first
  CHECK_THROWS_WITH_AS(train_sgan(g), says_cuda, ssl::Error);

  CompareOptions c;
  c.device = "cuda";
  c.out_dir = "";  // never written: the device is checked first
  CHECK_THROWS_WITH_AS(compare(c), says_cuda, ssl::Error);
}
