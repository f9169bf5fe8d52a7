// `ssl bench kernels [--device cpu|cuda] [--kernel NAME]`: the kernel study harness. For every version of
// every studied kernel it first checks the output against the CPU reference (outputs poisoned with NaN
// first, random inputs), then times it (warm-up, median) and prints time, GB/s, GFLOP/s and how close the
// time is to the floor that the bytes and flops imply at the device's measured ceilings (measured first: a
// large copy and a large GEMM). kernels/README.md explains each kernel's numbers and versions.
#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/flags.h"
#include "core/ops.h"
#include "kernels/common/median.h"
#include "kernels/depthwise.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/ntxent.h"
#include "kernels/optim.h"
#include "kernels/softmax.h"
#if SSL_WITH_CUDA
#include "kernels/cuda/depthwise.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/ntxent.h"
#include "kernels/cuda/optim.h"
#include "kernels/cuda/softmax.h"
#include "kernels/cuda/timing.h"
#endif
#include "kernels/device_memory.h"

namespace ssl::apps {

namespace {

struct KernelBenchOptions {
  std::string device = "cpu";
  std::string kernel;  // substring filter on kernel names
  int repeats = 10;
  int threads = 0;
  bool json = false;
};

// One version of one kernel on one shape. `outputs` are poisoned before the checked run; `run` makes one
// call; `reference` are the CPU reference's values of the outputs, in the same order.
struct KernelCase {
  std::string kernel, version, shape;
  double bytes = 0, flops = 0;  // that must move / must be done, whatever the version
  std::vector<Tensor> outputs;
  std::vector<std::vector<double>> reference;
  std::function<void()> run;
  double atol = 1e-4, rtol = 1e-3;
};

struct Ceilings {
  double gb_per_s = 0, gflop_per_s = 0;
};

double host_median_ms(const std::function<void()>& fn, int repeats) {
  for (int i = 0; i < 2; ++i) fn();
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return kernels::median(ms);
}

double median_ms(Device d, const std::function<void()>& fn, int repeats) {
#if SSL_WITH_CUDA
  if (d.is_cuda()) return kernels::cuda::median_ms(fn, repeats, 2);
#endif
  (void)d;
  return host_median_ms(fn, repeats);
}

Ceilings measure_ceilings(Device d, int repeats) {
#if SSL_WITH_CUDA
  if (d.is_cuda()) return {kernels::cuda::copy_gb_per_s(), kernels::cuda::sgemm_gflop_per_s()};
#endif
  const int64_t n = 1024, bytes = int64_t(1) << 28;
  std::vector<char> a(bytes, 1), b(bytes);
  // Main memory's bandwidth: 256 MB copied by every compute thread, as the kernels run on all of them. A
  // kernel whose data fit in the caches can beat it (a floor above 100%).
  constexpr int64_t kChunks = 64;
  const double copy_ms = host_median_ms(
      [&] {
#pragma omp parallel for schedule(static)
        for (int64_t c = 0; c < kChunks; ++c)
          std::copy(a.begin() + c * (bytes / kChunks), a.begin() + (c + 1) * (bytes / kChunks),
                    b.begin() + c * (bytes / kChunks));
      },
      5);
  Generator gen(1);
  const Tensor x = Tensor::uniform({n, n}, -1, 1, gen), y = Tensor::uniform({n, n}, -1, 1, gen);
  Tensor z = Tensor::empty({n, n});
  const double gemm_ms = host_median_ms(
      [&] {
        kernels::cpu::gemm<float>(false, false, n, n, n, 1.f, x.data<float>(), n, y.data<float>(), n, 0.f,
                                  z.data<float>(), n);
      },
      repeats);
  return {2.0 * double(bytes) / (copy_ms * 1e6), 2.0 * double(n) * n * n / (gemm_ms * 1e6)};
}

Tensor random_tensor(const Shape& shape, uint64_t seed, Device d) {
  Generator gen(seed);
  return Tensor::uniform(shape, -1, 1, gen).to(d);
}

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

// ---- NT-Xent forward + backward ---------------------------------------------------------------------------

void add_ntxent_cases(std::vector<KernelCase>& cases, Device d) {
  const int64_t n = d.is_cuda() ? 4096 : 512, dim = 128, rows = 2 * n;
  const kernels::NtXentShape s{rows, dim, false};
  const float temperature = 0.2f;
  const Tensor z_cpu = random_tensor({rows, dim}, 11, Device::cpu());
  Tensor zn = Tensor::empty({rows, dim}), inv = Tensor::empty({rows}), lse = Tensor::empty({rows});
  Tensor gz = Tensor::empty({rows, dim});
  const kernels::NtXentSaved<float> saved_cpu{zn.data<float>(), inv.data<float>(), lse.data<float>()};
  const float loss = kernels::cpu::ntxent_forward<float>(s, z_cpu.data<float>(), temperature, saved_cpu);
  kernels::cpu::ntxent_backward<float>(s, temperature, saved_cpu.as_const(), 1.f, gz.data<float>());
  // Floor: the similarities (2N)²·d multiply-adds forward and twice that backward; z read, its gradient
  // written.
  const double flops = 6.0 * double(rows) * rows * dim, bytes = 4.0 * 2 * rows * dim;
  const std::string shape = str_cat("N=", n, " d=", dim);
  const Tensor z = z_cpu.to(d);
  Tensor dzn = Tensor::empty({rows, dim}, DType::f32, d), dinv = Tensor::empty({rows}, DType::f32, d),
         dlse = Tensor::empty({rows}, DType::f32, d), dloss = Tensor::empty({1}, DType::f32, d),
         dgz = Tensor::empty({rows, dim}, DType::f32, d), one = Tensor::ones({1}, DType::f32, d);
  // The runs outlive this function: each keeps the tensors themselves (here inside `saved`), never bare
  // pointers into them, whose storage would be freed on return.
  const auto saved = [=] {
    return kernels::NtXentSaved<float>{dzn.data<float>(), dinv.data<float>(), dlse.data<float>()};
  };
  auto add = [&](const std::string& version, std::function<void()> run) {
    cases.push_back(
        {"ntxent_fwd_bwd", version, shape, bytes, flops, {dloss, dgz}, {{loss}, values(gz)}, run});
  };
  if (d.is_cpu()) {
    add("cpu", [=] {
      *dloss.data<float>() = kernels::cpu::ntxent_forward<float>(s, z.data<float>(), temperature, saved());
      kernels::cpu::ntxent_backward<float>(s, temperature, saved().as_const(), 1.f, dgz.data<float>());
    });
  }
#if SSL_WITH_CUDA
  if (d.is_cuda()) {
    using namespace kernels::cuda;
    add("v1", [=] {
      ntxent_forward_v1<float>(s, z.data<float>(), temperature, saved(), dloss.data<float>());
      ntxent_backward_v1<float>(s, temperature, saved().as_const(), one.data<float>(), dgz.data<float>());
    });
    add("v2", [=] {
      ntxent_forward_v2<float>(s, z.data<float>(), temperature, saved(), dloss.data<float>());
      ntxent_backward_v2<float>(s, temperature, saved().as_const(), one.data<float>(), dgz.data<float>());
    });
  }
#endif
}

// ---- depthwise convolution forward and backward on MobileNetV1's shapes -----------------------------------

void add_depthwise_cases(std::vector<KernelCase>& cases, Device d) {
  const int64_t batch = d.is_cuda() ? 128 : 32;
  struct Layer {
    int64_t c, hw, stride;
  };
  for (const Layer l : {Layer{32, 32, 1}, Layer{64, 32, 2}, Layer{128, 16, 1}, Layer{256, 8, 1},
                        Layer{512, 4, 1}, Layer{1024, 2, 1}}) {
    kernels::Conv2dShape s{batch, l.c, l.hw, l.hw, l.c, 3, 3};
    s.stride_h = s.stride_w = l.stride;
    s.pad_h = s.pad_w = 1;
    s.groups = l.c;
    const Shape xs{batch, l.c, l.hw, l.hw}, ys{batch, l.c, s.out_h(), s.out_w()}, ws{l.c, 1, 3, 3};
    const Tensor x_cpu = random_tensor(xs, 21, Device::cpu()), w_cpu = random_tensor(ws, 22, Device::cpu());
    const Tensor gy_cpu = random_tensor(ys, 23, Device::cpu());
    Tensor y = Tensor::empty(ys), gx = Tensor::empty(xs), gw = Tensor::empty(ws);
    kernels::cpu::depthwise_conv2d_forward<float>(s, x_cpu.data<float>(), w_cpu.data<float>(), nullptr,
                                                  y.data<float>());
    kernels::cpu::depthwise_conv2d_backward<float>(s, x_cpu.data<float>(), w_cpu.data<float>(),
                                                   gy_cpu.data<float>(), gx.data<float>(), gw.data<float>(),
                                                   nullptr);
    const double x_bytes = 4.0 * numel_of(xs), y_bytes = 4.0 * numel_of(ys), macs = 9.0 * numel_of(ys);
    const std::string shape = str_cat("b", batch, " ", l.c, "ch ", l.hw, "x", l.hw, " s", l.stride);
    const Tensor x = x_cpu.to(d), w = w_cpu.to(d), gyd = gy_cpu.to(d);
    Tensor dy = Tensor::empty(ys, DType::f32, d), dgx = Tensor::empty(xs, DType::f32, d),
           dgw = Tensor::empty(ws, DType::f32, d);
    using Fwd = void (*)(const kernels::Conv2dShape&, const float*, const float*, const float*, float*);
    using Bwd = void (*)(const kernels::Conv2dShape&, const float*, const float*, const float*, float*,
                         float*, float*);
    auto add = [&](const std::string& version, Fwd fwd, Bwd bwd) {
      cases.push_back({"depthwise_fwd", version, shape, x_bytes + y_bytes, 2 * macs, {dy}, {values(y)}, [=] {
                         fwd(s, x.data<float>(), w.data<float>(), nullptr, dy.data<float>());
                       }});
      // Backward reads x and gy and writes gx (gw is tiny).
      cases.push_back({"depthwise_bwd",
                       version,
                       shape,
                       2 * x_bytes + y_bytes,
                       4 * macs,
                       {dgx, dgw},
                       {values(gx), values(gw)},
                       [=] {
                         bwd(s, x.data<float>(), w.data<float>(), gyd.data<float>(), dgx.data<float>(),
                             dgw.data<float>(), nullptr);
                       }});
      cases.back().atol = 1e-3;  // gw sums over batch × plane products
    };
    if (d.is_cpu()) {
      using namespace kernels::cpu;
      add("v1", depthwise_conv2d_forward_v1<float>, depthwise_conv2d_backward_v1<float>);
      add("v2", depthwise_conv2d_forward_v2<float>, depthwise_conv2d_backward_v2<float>);
      add("v3", depthwise_conv2d_forward_v3<float>, depthwise_conv2d_backward_v3<float>);
    }
#if SSL_WITH_CUDA
    if (d.is_cuda()) {
      using namespace kernels::cuda;
      add("v1", depthwise_conv2d_forward_v1<float>, depthwise_conv2d_backward_v1<float>);
      add("v2", depthwise_conv2d_forward_v2<float>, depthwise_conv2d_backward_v2<float>);
      add("v3", depthwise_conv2d_forward_v3<float>, depthwise_conv2d_backward_v3<float>);
    }
#endif
  }
}

// ---- memory-bound kernels: a broadcast-free add, softmax rows, an Adam step
// -----------------------------------

void add_memory_bound_cases(std::vector<KernelCase>& cases, Device d) {
  const int64_t n = d.is_cuda() ? (int64_t(1) << 26) : (int64_t(1) << 22);
  const Tensor a_cpu = random_tensor({n}, 31, Device::cpu()), b_cpu = random_tensor({n}, 32, Device::cpu());
  const Tensor sum_cpu = add(a_cpu, b_cpu);
  const Tensor a = a_cpu.to(d), b = b_cpu.to(d);
  Tensor out = Tensor::empty({n}, DType::f32, d);
  const std::string add_shape = str_cat("n=", n);
  using kernels::BinaryOp, kernels::Strided;
  using Binary = void (*)(BinaryOp, int64_t, const int64_t*, Strided<const float>, Strided<const float>,
                          Strided<float>, double);
  auto add_case = [&](const std::string& version, Binary binary) {
    // The run keeps the tensors (not bare pointers into them) and its own size and stride: it outlives this
    // function.
    cases.push_back({"add", version, add_shape, 12.0 * n, double(n), {out}, {values(sum_cpu)}, [=] {
                       const int64_t unit = 1;
                       binary(BinaryOp::add, 1, &n, {a.data<float>(), &unit}, {b.data<float>(), &unit},
                              {out.data<float>(), &unit}, 0.0);
                     }});
  };
  if (d.is_cpu()) add_case("cpu", kernels::cpu::binary<float>);
#if SSL_WITH_CUDA
  if (d.is_cuda()) {
    add_case("v1", kernels::cuda::binary_v1<float>);
    add_case("v2", kernels::cuda::binary_v2<float>);
  }
#endif

  const int64_t rows = d.is_cuda() ? 65536 : 4096, cols = 1000;
  const Tensor x_cpu = random_tensor({rows, cols}, 33, Device::cpu());
  const Tensor sm_cpu = softmax(x_cpu, 1), x = x_cpu.to(d);
  Tensor sm = Tensor::empty({rows, cols}, DType::f32, d);
  auto run_softmax = [=] {
#if SSL_WITH_CUDA
    if (x.device().is_cuda())
      return kernels::cuda::softmax_forward<float>(rows, cols, x.data<float>(), sm.data<float>());
#endif
    kernels::cpu::softmax_forward<float>(rows, cols, x.data<float>(), sm.data<float>());
  };
  cases.push_back({"softmax_fwd",
                   d.is_cuda() ? "cuda" : "cpu",
                   str_cat(rows, "x", cols),
                   8.0 * rows * cols,
                   4.0 * rows * cols,
                   {sm},
                   {values(sm_cpu)},
                   run_softmax,
                   1e-6,
                   1e-4});

  // Adam reads p, g, m, v and writes p, m, v. The timed calls keep updating the state, so the check is of the
  // first call only (the reference is one step from the same start).
  const Tensor p0 = random_tensor({n}, 34, Device::cpu()), g0 = random_tensor({n}, 35, Device::cpu());
  Tensor p_ref = p0.clone(), m_ref = Tensor::zeros({n}), v_ref = Tensor::zeros({n});
  kernels::cpu::adam_step<float>(n, p_ref.data<float>(), g0.data<float>(), m_ref.data<float>(),
                                 v_ref.data<float>(), 1e-3f, 0.9f, 0.999f, 1e-8f, 0.f, 1);
  // The start state lives on the device, apart from p: on the CPU p0.to(d) would be p0 itself (the poisoned
  // output would poison the start), and on a GPU a reset from host memory would time a bus copy.
  const Tensor p_start = p0.to(d).clone();
  Tensor p = p_start.clone(), g = g0.to(d), m = Tensor::zeros({n}, DType::f32, d),
         v = Tensor::zeros({n}, DType::f32, d);
  auto run_adam = [=]() mutable {
    Tensor(p).copy_(p_start);  // every call is the first step from the same state, so the check holds
    Tensor(m).fill_(0);
    Tensor(v).fill_(0);
#if SSL_WITH_CUDA
    if (p.device().is_cuda())
      return kernels::cuda::adam_step<float>(n, p.data<float>(), g.data<float>(), m.data<float>(),
                                             v.data<float>(), 1e-3f, 0.9f, 0.999f, 1e-8f, 0.f, 1);
#endif
    kernels::cpu::adam_step<float>(n, p.data<float>(), g.data<float>(), m.data<float>(), v.data<float>(),
                                   1e-3f, 0.9f, 0.999f, 1e-8f, 0.f, 1);
  };
  // The timed figure includes the reset of p, m and v (one more write of each, one read of p0).
  cases.push_back({"adam_step(+reset)",
                   d.is_cuda() ? "cuda" : "cpu",
                   str_cat("n=", n),
                   4.0 * 11 * n,
                   12.0 * n,
                   {p, m, v},
                   {values(p_ref), values(m_ref), values(v_ref)},
                   run_adam,
                   1e-6,
                   1e-5});
}

// Largest |got − ref| / (atol + rtol·|ref|) over the outputs (NaN counts as a failure); ≤ 1 passes.
double worst_error(const KernelCase& c) {
  double worst = 0;
  for (size_t i = 0; i < c.outputs.size(); ++i) {
    const std::vector<double> got = c.outputs[i].to_vector<double>();
    for (size_t j = 0; j < got.size(); ++j) {
      const double e =
          std::fabs(got[j] - c.reference[i][j]) / (c.atol + c.rtol * std::fabs(c.reference[i][j]));
      if (!(e <= worst)) worst = std::isnan(e) ? std::numeric_limits<double>::infinity() : e;
    }
  }
  return worst;
}

void run_kernel_bench(const KernelBenchOptions& o) {
  const Device d = Device::parse_present(o.device);
  std::vector<KernelCase> cases;
  const auto wanted = [&](const std::string& name) { return name.find(o.kernel) != std::string::npos; };
  // The compute-bound cases hold large inputs, so they are made only when asked for.
  std::string names = "ntxent_fwd_bwd, depthwise_fwd, depthwise_bwd";
  if (wanted("ntxent_fwd_bwd")) add_ntxent_cases(cases, d);
  if (wanted("depthwise_fwd") || wanted("depthwise_bwd")) add_depthwise_cases(cases, d);
  add_memory_bound_cases(cases, d);
  for (size_t i = 0; i < cases.size(); ++i)
    if (i == 0 || cases[i].kernel != cases[i - 1].kernel) names += ", " + cases[i].kernel;
  std::erase_if(cases, [&](const KernelCase& c) { return !wanted(c.kernel); });
  SSL_CHECK(!cases.empty(), "bench kernels: no kernel name contains '", o.kernel, "'; the kernels: ", names);

  const Ceilings ceil = measure_ceilings(d, o.repeats);
  if (o.json) {
    nlohmann::json c = {
        {"device", d.str()}, {"ceiling_gb_per_s", ceil.gb_per_s}, {"ceiling_gflop_per_s", ceil.gflop_per_s}};
    if (d.is_cpu()) c["threads"] = omp_get_max_threads();
    std::printf("%s\n", c.dump().c_str());
  } else {
    std::printf("device %s: measured ceilings %.0f GB/s (copy), %.0f GFLOP/s (FP32 GEMM)%s\n",
                d.str().c_str(), ceil.gb_per_s, ceil.gflop_per_s,
                d.is_cpu() ? str_cat(", ", omp_get_max_threads(), " threads").c_str() : "");
    std::printf("%-18s %-5s %-24s %10s %9s %9s %7s  %s\n", "kernel", "ver", "shape", "ms", "GB/s", "GFLOP/s",
                "floor%", "check");
  }
  int failed = 0;
  for (const KernelCase& c : cases) {
    for (const Tensor& out : c.outputs) Tensor(out).fill_(std::numeric_limits<double>::quiet_NaN());
    c.run();
    const double err = worst_error(c);
    const bool ok = err <= 1;
    failed += !ok;
    const double ms = median_ms(d, c.run, o.repeats);
    const double floor_ms = std::max(c.bytes / (ceil.gb_per_s * 1e6), c.flops / (ceil.gflop_per_s * 1e6));
    nlohmann::json r = {{"kernel", c.kernel},
                        {"version", c.version},
                        {"shape", c.shape},
                        {"device", d.str()},
                        {"median_ms", ms},
                        {"gb_per_s", c.bytes / (ms * 1e6)},
                        {"gflop_per_s", c.flops / (ms * 1e6)},
                        {"floor_fraction", floor_ms / ms},
                        {"valid", ok}};
    if (o.json) {
      std::printf("%s\n", r.dump().c_str());
    } else {
      std::printf("%-18s %-5s %-24s %10.3f %9.1f %9.1f %6.0f%%  %s\n", c.kernel.c_str(), c.version.c_str(),
                  c.shape.c_str(), ms, c.bytes / (ms * 1e6), c.flops / (ms * 1e6), 100 * floor_ms / ms,
                  ok ? "ok" : str_cat("MISMATCH (", err, "x tolerance)").c_str());
    }
    std::fflush(stdout);
  }
  SSL_CHECK(failed == 0, "bench kernels: ", failed, " kernel version(s) disagree with the CPU reference");
}

}  // namespace

void add_bench_kernels_command(CLI::App& bench) {
  auto o = std::make_shared<KernelBenchOptions>();
  CLI::App* cmd = bench.add_subcommand(
      "kernels", "Validate every version of the studied kernels against the CPU reference, then time them");
  cmd->add_option("--device", o->device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--kernel", o->kernel, "Only kernels whose name contains this text");
  cmd->add_option("--repeats", o->repeats, "Timed repetitions per case")
      ->capture_default_str()
      ->check(positive_number());
  add_threads_flag(*cmd, o->threads);
  cmd->add_flag("--json", o->json, "One JSON object per case");
  cmd->callback([o, &bench]() {
    // `ssl bench --device cuda kernels` would otherwise take the workloads' --device and run on the CPU.
    for (const CLI::Option* flag : bench.get_options())
      SSL_CHECK(flag->count() == 0, "bench kernels: ", flag->get_name(),
                " was given before 'kernels', where it is an option of the workloads (ssl bench); "
                "ssl bench kernels --help lists the kernel study's own");
    set_threads(o->threads);
    run_kernel_bench(*o);
  });
}

}  // namespace ssl::apps
