// Timing on the GPU for the kernel study harness (`ssl bench kernels --device cuda`): CUDA events recorded on
// the device's stream around each call, so the host's launch overhead is not counted as the kernel's time.
#pragma once

#include <functional>

namespace ssl::kernels::cuda {

// Median milliseconds of `repeats` calls of fn (each queueing work on stream()), after `warmup` untimed ones.
double median_ms(const std::function<void()>& fn, int repeats, int warmup);

// The device's measured ceilings: a device-to-device copy of 1 GiB (GB/s, counting the bytes read and
// written) and a 8192³ FP32 cuBLAS GEMM without TF32 (GFLOP/s).
double copy_gb_per_s();
double sgemm_gflop_per_s();

}  // namespace ssl::kernels::cuda
