#!/usr/bin/env python3
"""The workloads of `ssl bench`, timed in PyTorch on the CPU, for side-by-side ratios.

Usage: python3 bench/pytorch_reference.py [--threads N] [--repeats 10] [--json] [--only TEXT] [--check-params]
                                         [--device cuda]
(Debian's python3-torch will do: /usr/bin/python3 bench/pytorch_reference.py. Debian builds it against the
generic BLAS interface: install libopenblas0-openmp too, or its GEMM runs the reference BLAS at ~6 GFLOP/s
and every ratio is meaningless. The script prints its GEMM figures first so this shows.)

Its workloads (gemm_n*, ntxent_*, simclr_step_* and depthwise_*; ssl bench has more, which it leaves out)
are defined exactly as in apps/cmd_bench.cpp: same shapes, same model, same optimizer, and
images/s counts images through the encoder (2 views x batch). Medians over repeats after warm-up. With
--device cuda only the simclr_step workloads run, on the GPU, as `ssl bench --device cuda` runs them. The
models are in bench/torch_models.py, with the C++ state_dict names; --check-params checks their parameter
counts against torchvision's and exits.

The simclr_step workloads also report max_rss_mb, the process's peak resident memory so far
(getrusage ru_maxrss). It only grows, so a workload's own peak needs one process per workload:
    for w in simclr_step_convnet2_b256_32px simclr_step_mobilenet_v1_b128_32px \
             simclr_step_resnet18_b128_32px simclr_step_mobilenet_v1_b32_128px; do
        python3 bench/pytorch_reference.py --only $w; done
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models  # noqa: E402  (bench/torch_models.py)


def median_times(fn, repeats, warmup=2):
    """Medians of wall time and of the process's CPU time (all threads), in ms, as ssl bench reports them:
    with --threads 1 the CPU time is the figure a shared machine's load disturbs least."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        cpu.append((time.process_time() - c0) * 1e3)
        wall.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(wall), statistics.median(cpu)


def median_ms(fn, repeats, warmup=2):
    return median_times(fn, repeats, warmup)[0]


REPORTED = []  # the workloads reported, so that an --only matching none can say so


def report(args, record):
    REPORTED.append(record["workload"])
    record["threads"] = torch.get_num_threads()
    record["framework"] = f"pytorch {torch.__version__}"
    if args.json:
        print(json.dumps(record), flush=True)
    else:
        extra = ""
        if "gflops" in record:
            extra += f"  {record['gflops']:8.1f} GFLOP/s"
        if "gb_per_s" in record:
            extra += f"  {record['gb_per_s']:8.1f} GB/s"
        if "images_per_s" in record:
            extra += f"  {record['images_per_s']:8.1f} images/s"
        if "cpu_ms" in record:
            extra += f"  CPU {record['cpu_ms']:8.1f} ms"
        if "max_rss_mb" in record:
            extra += f"  peak RSS {record['max_rss_mb']:.0f} MB"
        print(f"{record['workload']:<34} {record['median_ms']:10.3f} ms{extra}", flush=True)


def bench_gemm(args):
    for n in (256, 512, 1024, 2048):
        name = f"gemm_n{n}"
        if args.only not in name:
            continue
        a, b = torch.rand(n, n) * 2 - 1, torch.rand(n, n) * 2 - 1
        ms = median_ms(lambda: torch.mm(a, b), args.repeats)
        report(args, {"workload": name, "median_ms": ms, "gflops": 2.0 * n**3 / (ms * 1e6)})


def ntxent_composed(z, temperature):
    """NT-Xent as it is usually written: normalise, full 2N x 2N similarity, mask the diagonal, cross-entropy."""
    two_n = z.shape[0]
    n = two_n // 2
    zn = F.normalize(z, dim=1)
    sim = zn @ zn.t() / temperature
    sim = sim.masked_fill(torch.eye(two_n, dtype=torch.bool, device=z.device), float("-inf"))
    targets = torch.cat([torch.arange(n, two_n, device=z.device), torch.arange(0, n, device=z.device)])
    return F.cross_entropy(sim, targets)


def bench_ntxent(args):
    for n in (256, 512, 1024):
        name = f"ntxent_fwd_bwd_n{n}_d128"
        if args.only not in name:
            continue
        z = torch.randn(2 * n, 128, requires_grad=True)

        def step():
            z.grad = None
            ntxent_composed(z, 0.5).backward()

        report(args, {"workload": name, "median_ms": median_ms(step, args.repeats)})


def max_rss_mb():
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_simclr_step(args, model, batch, size):
    """Both views through encoder and projection head, NT-Xent, backward, SGD-momentum update."""
    name = f"simclr_step_{model}_b{batch}_{size}px"
    if args.only not in name:
        return
    torch.manual_seed(3)
    device = torch.device(args.device)
    encoder = torch_models.make_encoder(model, size).to(device)
    head = torch_models.projection_head(encoder.feature_dim).to(device)
    params = list(encoder.parameters()) + list(head.parameters())
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=5e-4)
    views = torch.randn(2 * batch, 3, size, size).to(device)

    def step():
        loss = ntxent_composed(head(encoder(views)), torch_models.TEMPERATURE)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)  # time the step's work, not its launch

    ms, cpu_ms = median_times(step, max(3, args.repeats // 2))
    report(args, {"workload": name, "device": args.device, "median_ms": ms,
                  "images_per_s": 2.0 * batch / (ms / 1e3), "cpu_ms": cpu_ms, "max_rss_mb": max_rss_mb()})


def depthwise_bytes(n, c, side, stride):
    """Bytes a depthwise 3x3 forward+backward must move, in float32.

    forward reads x and writes y; backward reads x and gy and writes gx and gw:
        4 * (3 * |x| + 2 * |y| + |w|), |x| = n*c*side^2, |y| = n*c*out^2, |w| = 9*c.
    The weight reads (9*c floats, twice) are not counted.
    """
    out = (side - 1) // stride + 1
    x, y, w = n * c * side * side, n * c * out * out, 9 * c
    return 4 * (3 * x + 2 * y + w)


def bench_depthwise(args, batch=128, image_size=32):
    """F.conv2d(groups=C) forward + backward (gx and gw) on each distinct depthwise shape of MobileNetV1.

    At 32 px (stem stride 1), (channels, input side, stride) of the 13 blocks take 9 distinct values:
    (32, 32, 1), (64, 32, 2), (128, 16, 1), (128, 16, 2), (256, 8, 1), (256, 8, 2), (512, 4, 1) x5,
    (512, 4, 2), (1024, 2, 1). GB/s counts depthwise_bytes.
    """
    for c, side, stride in sorted(set(torch_models.mobilenet_v1_depthwise_shapes(image_size))):
        name = f"depthwise_fwd_bwd_c{c}_s{side}_stride{stride}_b{batch}"
        if args.only not in name:
            continue
        torch.manual_seed(5)
        x = torch.randn(batch, c, side, side, requires_grad=True)
        w = torch.randn(c, 1, 3, 3, requires_grad=True)
        out = (side - 1) // stride + 1
        gy = torch.randn(batch, c, out, out)

        def step():
            y = F.conv2d(x, w, stride=stride, padding=1, groups=c)
            torch.autograd.grad(y, (x, w), gy)

        ms = median_ms(step, args.repeats)
        gb = depthwise_bytes(batch, c, side, stride) / 1e9
        report(args, {"workload": name, "median_ms": ms, "gb_per_s": gb / (ms / 1e3)})


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=0,
                   help="compute threads (0 = OpenMP's default, as ssl bench's --threads 0: OMP_NUM_THREADS "
                        "when set, else every CPU this process may run on)")
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--json", action="store_true")
    p.add_argument("--only", default="")
    p.add_argument("--device", default="cpu",
                   help="cpu, or cuda[:N] to time the SimCLR steps (only those) on a GPU, as `ssl bench --device`")
    p.add_argument("--check-params", action="store_true",
                   help="check the models' parameter counts against torchvision's and exit")
    args = p.parse_args()
    if args.check_params:
        torch_models.check_parameter_counts()
        return
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    elif "OMP_NUM_THREADS" not in os.environ:  # PyTorch's own default may be fewer (one per physical core)
        torch.set_num_threads(len(os.sched_getaffinity(0)))
    on_gpu = args.device != "cpu"
    # ssl's cuDNN convolutions and cuBLAS GEMMs run in plain FP32; PyTorch's convolutions default to TF32.
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    if not on_gpu:
        with torch.no_grad():
            bench_gemm(args)
        bench_ntxent(args)
    bench_simclr_step(args, "convnet2", 256, 32)
    bench_simclr_step(args, "mobilenet_v1", 128, 32)
    bench_simclr_step(args, "resnet18", 128, 32)
    bench_simclr_step(args, "mobilenet_v1", 32, 128)
    if not on_gpu:
        bench_depthwise(args)
    if not REPORTED:
        sys.exit(f"no workload name contains '{args.only}' on {args.device}")


if __name__ == "__main__":
    main()
