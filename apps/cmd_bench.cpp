// `ssl bench`: medians of repeated timings of the workloads the project's speed goals are stated in.
// A benchmark, not a test: compare against bench/pytorch_reference.py run in the same session.
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/flags.h"
#include "core/host_arena.h"
#include "core/ops_nn.h"
#include "data/loader.h"
#include "data/registry.h"
#include "data/transforms.h"
#include "kernels/common/median.h"
#include "kernels/compute_threads.h"
#include "kernels/conv.h"
#include "kernels/conv_transpose.h"
#include "kernels/depthwise.h"
#include "kernels/device_memory.h"
#include "kernels/gemm.h"
#include "nn/flops.h"
#include "nn/optim.h"
#include "ssl/simclr.h"

namespace ssl::apps {

namespace {

// --only: each workload asks before it is set up; every name asked about is kept, so that a filter that
// matches none can list them.
struct WorkloadFilter {
  std::string only;  // run the workloads whose name contains this (empty: all)
  std::vector<std::string> names;
  int64_t matched = 0;
  bool wants(const std::string& name) {
    names.push_back(name);
    const bool match = name.find(only) != std::string::npos;
    matched += match;
    return match;
  }
  // Refuses a filter that matched no workload, listing them all.
  void check_matched() const {
    if (matched > 0) return;
    std::string list;
    for (const std::string& name : names) list += (list.empty() ? "" : ", ") + name;
    throw Error(str_cat("bench: no workload name contains '", only, "'; the workloads: ", list));
  }
};

struct BenchOptions {
  bool json = false;
  int repeats = 10;
  int threads = 0;
  WorkloadFilter filter;
  // cuda[:N]: the SimCLR steps on that GPU (the other workloads time CPU kernels; `ssl bench kernels
  // --device cuda` times the CUDA ones).
  std::string device = "cpu";
};

// CPU time of the whole process (all threads) in milliseconds.
double process_cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) * 1e3 + double(t.tv_nsec) / 1e6;
}

// Medians over `repeats` calls after `warmup` untimed ones: wall time, and the process's CPU time. On a
// machine shared with other jobs the wall time of a call grows with the load; with one thread its CPU time
// does not (much), which makes --threads 1 CPU times the steadier figure for comparing two versions. (With
// more threads CPU time also counts OpenMP's spin-waits, which the load inflates.)
struct Timing {
  double wall_ms, cpu_ms;
};
Timing median_times(const std::function<void()>& fn, int repeats, int warmup = 2) {
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> wall, cpu;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = process_cpu_ms();
    fn();
    cpu.push_back(process_cpu_ms() - c0);
    wall.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return {kernels::median(wall), kernels::median(cpu)};
}

// Median wall time in milliseconds of `repeats` calls after `warmup` untimed ones.
double median_ms(const std::function<void()>& fn, int repeats, int warmup = 2) {
  return median_times(fn, repeats, warmup).wall_ms;
}

// The process's peak resident memory so far, in MB: per workload only when one runs per process (--only).
double max_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;  // kilobytes on Linux
}

void report(const BenchOptions& o, nlohmann::json record) {
  if (!record.contains("threads")) record["threads"] = omp_get_max_threads();
  if (o.json) {
    std::printf("%s\n", record.dump().c_str());
  } else {
    std::printf("%-40s %10.3f ms", record["workload"].get<std::string>().c_str(),
                record["median_ms"].get<double>());
    if (record.contains("gflops")) std::printf("  %8.1f GFLOP/s", record["gflops"].get<double>());
    if (record.contains("eigen_gflops")) std::printf("  (Eigen %.1f)", record["eigen_gflops"].get<double>());
    if (record.contains("gemm_ms")) std::printf("  (im2col + GEMM %.3f ms)", record["gemm_ms"].get<double>());
    if (record.contains("composed_ms"))
      std::printf("  (upsample + conv2d %.3f ms)", record["composed_ms"].get<double>());
    if (record.contains("gb_per_s")) std::printf("  %8.1f GB/s", record["gb_per_s"].get<double>());
    if (record.contains("images_per_s"))
      std::printf("  %8.1f images/s", record["images_per_s"].get<double>());
    if (record.contains("cpu_ms")) std::printf("  CPU %8.1f ms", record["cpu_ms"].get<double>());
    if (record.contains("max_rss_mb")) std::printf("  peak RSS %6.0f MB", record["max_rss_mb"].get<double>());
    std::printf("\n");
  }
  std::fflush(stdout);
}

void bench_gemm(BenchOptions& o) {
  for (int64_t n : {256, 512, 1024, 2048}) {
    const std::string name = str_cat("gemm_n", n);
    if (!o.filter.wants(name)) continue;
    Generator gen(1);
    const Tensor a = Tensor::uniform({n, n}, -1, 1, gen), b = Tensor::uniform({n, n}, -1, 1, gen);
    Tensor c = Tensor::empty({n, n});
    const double ms = median_ms(
        [&] {
          kernels::cpu::gemm<float>(false, false, n, n, n, 1.f, a.data<float>(), n, b.data<float>(), n, 0.f,
                                    c.data<float>(), n);
        },
        o.repeats);
    report(o, {{"workload", name}, {"median_ms", ms}, {"gflops", 2.0 * n * n * n / (ms * 1e6)}});
  }
}

// One thread's GEMM on the convolutions' shapes (resnet18 at 32 px: layer 1's forward, input gradient and
// weight gradient, layer 4's forward), gemm_serial beside Eigen's product on one thread, in the same run.
void bench_gemm_serial(BenchOptions& o) {
  const int64_t shapes[][3] = {{64, 1024, 576}, {576, 1024, 64}, {64, 576, 1024}, {512, 128, 4608}};
  for (const auto& [m, n, k] : shapes) {
    const std::string name = str_cat("gemm_serial_m", m, "_n", n, "_k", k);
    if (!o.filter.wants(name)) continue;
    Generator gen(1);
    const Tensor a = Tensor::uniform({m, k}, -1, 1, gen), b = Tensor::uniform({k, n}, -1, 1, gen);
    Tensor c = Tensor::empty({m, n});
    const auto run = [&](auto gemm_fn) {
      const kernels::ComputeThreads one(1);
      return median_ms(
          [&] {
            gemm_fn(false, false, m, n, k, 1.f, a.data<float>(), k, b.data<float>(), n, 0.f, c.data<float>(),
                    n);
          },
          o.repeats);
    };
    const double ours = run(kernels::cpu::gemm_serial<float>), eigen = run(kernels::cpu::gemm<float>);
    const double flop = 2.0 * double(m) * double(n) * double(k);
    report(o, {{"workload", name},
               {"median_ms", ours},
               {"gflops", flop / (ours * 1e6)},
               {"eigen_gflops", flop / (eigen * 1e6)},
               {"threads", 1}});
  }
}

void bench_ntxent(BenchOptions& o) {
  for (int64_t n : {256, 512, 1024}) {
    const std::string name = str_cat("ntxent_fwd_bwd_n", n, "_d128");
    if (!o.filter.wants(name)) continue;
    Generator gen(2);
    Tensor z = Tensor::normal({2 * n, 128}, 0, 1, gen).set_requires_grad();
    const double ms = median_ms(
        [&] {
          z.zero_grad();
          ntxent(z, 0.5).backward();
        },
        o.repeats);
    report(o, {{"workload", name}, {"median_ms", ms}});
  }
}

// One full SimCLR step: both views through encoder and head, NT-Xent, backward, SGD-momentum update (on a
// GPU, timed to the end of the step's work: the host waits for the device's stream).
// images/s counts images through the encoder (2 views × batch); GFLOP/s is effective: the encoder's training
// FLOPs (forward FLOPs × 3: forward, input gradient, weight gradient) per second.
void bench_simclr_step(BenchOptions& o, const std::string& model, int64_t batch, int64_t size) {
  const std::string name = str_cat("simclr_step_", model, "_b", batch, "_", size, "px");
  if (!o.filter.wants(name)) return;
  manual_seed(3);
  nn::EncoderPtr encoder = nn::make_encoder(model, size);
  const double train_flops_per_image = 3.0 * double(nn::forward_flops(*encoder, size));
  SimCLR simclr(encoder, SimCLROptions{});
  const Device device = Device::parse(o.device);
  simclr.to(device);  // before the optimizer, whose state is made beside each parameter
  nn::SGD opt(simclr.parameters(), 0.01, 0.9, 5e-4);
  Generator gen(4);
  const Tensor views = Tensor::normal({2 * batch, 3, size, size}, 0, 1, gen).to(device);
  const Timing t = median_times(
      [&] {
        Tensor loss = simclr.forward(views);
        opt.zero_grad();
        loss.backward();
        opt.step();
        if (device.is_cuda()) kernels::cuda::synchronize(device.index);
      },
      std::max(3, o.repeats / 2));
  const double ms = t.wall_ms;
  const HostArenaStats arena = host_arena().stats();
  const double images_per_s = 2.0 * batch / (ms / 1e3);
  report(o, {{"workload", name},
             {"device", device.str()},
             {"median_ms", ms},
             {"images_per_s", images_per_s},
             {"gflops", images_per_s * train_flops_per_image / 1e9},
             {"cpu_ms", t.cpu_ms},
             {"max_rss_mb", max_rss_mb()},
             {"arena_peak_live_mb", double(arena.peak_in_use) / (1 << 20)},
             {"arena_peak_reserved_mb", double(arena.peak_reserved) / (1 << 20)}});
}

// Depthwise convolution forward + backward (gx and gw) on each distinct depthwise shape of mobilenet_v1 at
// 32 px, batch 128, through the kernels the model uses. GB/s counts the bytes that must move: forward reads
// x and writes y, backward reads x and gy and writes gx and gw: 4·(3|x| + 2|y| + 9C), the count
// bench/pytorch_reference.py uses too.
void bench_depthwise(BenchOptions& o) {
  // (channels, input side, stride) of the 13 blocks' depthwise layers, each distinct shape once.
  const int64_t shapes[][3] = {{32, 32, 1}, {64, 32, 2}, {128, 16, 1}, {128, 16, 2}, {256, 8, 1},
                               {256, 8, 2}, {512, 4, 1}, {512, 4, 2},  {1024, 2, 1}};
  const int64_t batch = 128;
  for (const auto& [c, side, stride] : shapes) {
    const std::string name = str_cat("depthwise_fwd_bwd_c", c, "_s", side, "_stride", stride, "_b", batch);
    if (!o.filter.wants(name)) continue;
    const kernels::Conv2dShape s{batch, c, side, side, c, 3, 3, stride, stride, 1, 1, c};
    Generator gen(6);
    const Tensor x = Tensor::normal({batch, c, side, side}, 0, 1, gen),
                 w = Tensor::normal({c, 1, 3, 3}, 0, 1, gen);
    const Tensor gy = Tensor::normal({batch, c, s.out_h(), s.out_w()}, 0, 1, gen);
    Tensor y = Tensor::empty(gy.shape()), gx = Tensor::empty(x.shape()), gw = Tensor::empty(w.shape());
    const double ms = median_ms(
        [&] {
          kernels::cpu::depthwise_conv2d_forward<float>(s, x.data<float>(), w.data<float>(), nullptr,
                                                        y.data<float>());
          kernels::cpu::depthwise_conv2d_backward<float>(s, x.data<float>(), w.data<float>(),
                                                         gy.data<float>(), gx.data<float>(), gw.data<float>(),
                                                         nullptr);
        },
        o.repeats);
    const double bytes = 4.0 * double(3 * x.numel() + 2 * y.numel() + 9 * c);
    report(o, {{"workload", name}, {"median_ms", ms}, {"gb_per_s", bytes / (ms * 1e6)}});
  }
}

// The SGAN generator's layers at 32 px, batch 64, forward and backward (gx, gw) each. Its two resize-
// convolutions (upsample_conv2d, bias on the last) are timed beside upsampling then conv2d on the same inputs
// in the same run, both through autograd as a model runs them; GFLOP/s counts the transposed convolution's
// multiply-adds, 4/9 of the composed form's. Its two transposed convolutions are timed as kernels. A 3×3
// convolution from 128 channels to 3 at 32 px, the shape of a layer that outputs an image, times the direct
// loops (kernels/cpu/conv_direct.cpp, for convolutions to few channels such as the context encoder's
// output) beside im2col + GEMM. GFLOP/s: 3 × the forward's multiply-adds × 2 per second.
void bench_generator_layers(BenchOptions& o) {
  const int64_t batch = 64;
  Generator gen(7);
  const auto tensor = [&](const Shape& shape) { return Tensor::normal(shape, 0, 1, gen); };
  // (c_in, input side, c_out) of the two resize-convolutions.
  const int64_t resize[][3] = {{256, 8, 128}, {128, 16, 3}};
  for (const auto& [c_in, side, c_out] : resize) {
    const std::string name = str_cat("upsample_conv_fwd_bwd_c", c_in, "_to", c_out, "_s", side, "_b", batch);
    if (!o.filter.wants(name)) continue;
    Tensor x = tensor({batch, c_in, side, side}).set_requires_grad(),
           w = tensor({c_out, c_in, 3, 3}).set_requires_grad();
    Tensor b = c_out == 3 ? tensor({c_out}).set_requires_grad() : Tensor();
    const Tensor gy = tensor({batch, c_out, 2 * side, 2 * side});
    const auto fwd_bwd = [&](const std::function<Tensor()>& forward) {
      return median_ms(
          [&] {
            forward().backward(gy);
            for (Tensor* t : {&x, &w, &b})
              if (t->defined()) t->zero_grad();
          },
          o.repeats);
    };
    const double ms = fwd_bwd([&] { return upsample_conv2d(x, w, b); });
    const double composed = fwd_bwd([&] { return conv2d(upsample_nearest2d(x, 2), w, b, {1, 1}); });
    const double flop = 6.0 * double(batch * c_in * side * side * c_out * 16);
    report(o,
           {{"workload", name}, {"median_ms", ms}, {"gflops", flop / (ms * 1e6)}, {"composed_ms", composed}});
  }
  const kernels::Conv2dShape last{batch, 128, 32, 32, 3, 3, 3, 1, 1, 1, 1, 1};
  const std::string last_name = "conv_fwd_bwd_c128_to3_s32_b64";
  if (o.filter.wants(last_name)) {
    const Tensor x = tensor({batch, 128, 32, 32}), w = tensor({3, 128, 3, 3}),
                 gy = tensor({batch, 3, 32, 32});
    Tensor y = Tensor::empty(gy.shape()), gx = Tensor::empty(x.shape()), gw = Tensor::empty(w.shape());
    const auto run = [&](kernels::cpu::ConvAlgorithm a) {
      return median_ms(
          [&] {
            kernels::cpu::conv2d_forward<float>(last, x.data<float>(), w.data<float>(), nullptr,
                                                y.data<float>(), nullptr, a);
            kernels::cpu::conv2d_backward<float>(last, x.data<float>(), w.data<float>(), gy.data<float>(),
                                                 gx.data<float>(), gw.data<float>(), nullptr, a);
          },
          o.repeats);
    };
    const double ms = run(kernels::cpu::ConvAlgorithm::direct), gemm = run(kernels::cpu::ConvAlgorithm::gemm);
    const double flop = 6.0 * double(batch * 3 * 32 * 32 * 128 * 9);
    report(o, {{"workload", last_name}, {"median_ms", ms}, {"gflops", flop / (ms * 1e6)}, {"gemm_ms", gemm}});
  }
  // (c_in, input side, c_out, stride, padding) of the two transposed convolutions, 4x4 kernels.
  const int64_t transposed[][5] = {{100, 1, 512, 1, 0}, {512, 4, 256, 2, 1}};
  for (const auto& [c_in, side, c_out, stride, pad] : transposed) {
    const std::string name = str_cat("conv_transpose_fwd_bwd_c", c_in, "_to", c_out, "_s", side, "_b", batch);
    if (!o.filter.wants(name)) continue;
    const kernels::ConvTranspose2dShape s{batch, c_in, side, side, c_out, 4, 4, stride, stride, pad, pad};
    const Tensor x = tensor({batch, c_in, side, side}), w = tensor({c_in, c_out, 4, 4});
    const Tensor gy = tensor({batch, c_out, s.out_h(), s.out_w()});
    Tensor y = Tensor::empty(gy.shape()), gx = Tensor::empty(x.shape()), gw = Tensor::empty(w.shape());
    const double ms = median_ms(
        [&] {
          kernels::cpu::conv_transpose2d_forward<float>(s, x.data<float>(), w.data<float>(), nullptr,
                                                        y.data<float>());
          kernels::cpu::conv_transpose2d_backward<float>(s, x.data<float>(), w.data<float>(),
                                                         gy.data<float>(), gx.data<float>(), gw.data<float>(),
                                                         nullptr);
        },
        o.repeats);
    const double flop = 6.0 * double(batch * c_in * side * side * c_out * 16);
    report(o, {{"workload", name}, {"median_ms", ms}, {"gflops", flop / (ms * 1e6)}});
  }
}

// The SimCLR input pipeline alone: decode (synthetic images are drawn on the fly) and augment two views.
// `augment_*` runs on one thread (images/s per thread); `loader_*` is the threaded loader with 2 workers,
// the rate a training step is fed at.
void bench_input_pipeline(BenchOptions& o, int64_t size) {
  const std::string augment_name = str_cat("augment_simclr_", size, "px_per_thread");
  if (o.filter.wants(augment_name)) {
    // 96 px inputs come from resizing the 32 px synthetic images, as a 96 px dataset would be decoded.
    const auto dataset = data::open_dataset("synthetic:train:512");
    const auto augment = data::simclr_augment(size);
    const data::Resize resize(size);
    std::vector<data::Image> images;
    rng::Stream unused(0, 0);
    for (int64_t i = 0; i < dataset->size(); ++i) images.push_back(resize.apply(dataset->image(i), unused));
    const double ms = median_ms(
        [&] {
          for (size_t i = 0; i < images.size(); ++i) {
            rng::Stream stream(1, i);
            augment->apply(images[i], stream);
          }
        },
        o.repeats);
    report(o, {{"workload", augment_name},
               {"median_ms", ms},
               {"images_per_s", images.size() / (ms / 1e3)},
               {"threads", 1}});  // the augmentation runs on the calling thread alone
  }
  const std::string loader_name = str_cat("loader_simclr_b256_", size, "px_2workers");
  if (size == 32 && o.filter.wants(loader_name)) {
    const auto dataset = data::open_dataset("synthetic:train:2560");
    const auto augment = data::simclr_augment(size);
    data::LoaderOptions lo;
    lo.batch_size = 256;
    lo.views = 2;
    lo.workers = 2;
    lo.transform = augment.get();
    data::Loader loader(*dataset, lo);
    int64_t epoch = 0;
    const double ms = median_ms(
        [&] {
          loader.start_epoch(epoch++);
          data::Batch batch;
          while (loader.next(batch)) {
          }
        },
        std::max(3, o.repeats / 2));
    report(o, {{"workload", loader_name},
               {"median_ms", ms},
               {"images_per_s", 2.0 * dataset->size() / (ms / 1e3)},
               {"threads", lo.workers}});  // its workers, not the compute threads
  }
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd =
      app.add_subcommand("bench", "Time the project's reference workloads (medians over repeats)");
  cmd->add_flag("--json", o->json, "One JSON object per workload");
  cmd->add_option(
         "--repeats", o->repeats,
         "Timed repetitions per workload (the SimCLR steps and the loader, the slowest: max(3, repeats / 2))")
      ->capture_default_str()
      ->check(positive_number());
  add_threads_flag(*cmd, o->threads);
  cmd->add_option("--only", o->filter.only, "Run only workloads whose name contains this text");
  add_device_flag(*cmd, o->device, "Where the SimCLR steps run (on a GPU only they run)");
  add_bench_kernels_command(*cmd);
  cmd->callback([o, cmd]() {
    if (cmd->got_subcommand("kernels")) return;  // `ssl bench kernels` runs only the kernel study
    set_threads(o->threads);
    const bool on_gpu = Device::parse_present(o->device).is_cuda();
    if (!on_gpu) {
      bench_gemm(*o);
      bench_gemm_serial(*o);
      bench_ntxent(*o);
    }
    bench_simclr_step(*o, "convnet2", 256, 32);
    bench_simclr_step(*o, "mobilenet_v1", 128, 32);
    bench_simclr_step(*o, "resnet18", 128, 32);
    bench_simclr_step(*o, "mobilenet_v1", 32, 128);
    if (!on_gpu) {
      bench_depthwise(*o);
      bench_generator_layers(*o);
      bench_input_pipeline(*o, 32);
      bench_input_pipeline(*o, 96);
    }
    o->filter.check_matched();
  });
}

}  // namespace ssl::apps
