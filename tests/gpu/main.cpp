// The GPU suite's entry point: without a CUDA device it says so and exits with ctest's "skipped" code,
// so a machine without a GPU never reports these tests as passed.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "kernels/device_memory.h"

int main(int argc, char** argv) {
  if (!ssl::kernels::cuda::cuda_is_available()) {
    std::printf("skipped: no CUDA device%s\n",
                ssl::kernels::cuda::cuda_is_built() ? "" : " (and this build has no CUDA backend)");
    return 77;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
