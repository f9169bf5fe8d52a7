#!/usr/bin/env python3
"""The workloads of `ssl bench`, timed in PyTorch on the CPU, for side-by-side ratios.

Usage: python3 bench/pytorch_reference.py [--threads 2] [--repeats 10] [--json] [--only TEXT]
(Debian's python3-torch will do: /usr/bin/python3 bench/pytorch_reference.py. Debian builds it against the
generic BLAS interface: install libopenblas0-openmp too, or its GEMM runs the reference BLAS at ~6 GFLOP/s
and every ratio is meaningless. The script prints its GEMM figures first so this shows.)

Each workload is defined exactly as in apps/cmd_bench.cpp: same shapes, same model, same optimizer, and
images/s counts images through the encoder (2 views x batch). Medians over repeats after warm-up.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def median_ms(fn, repeats, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def report(args, record):
    record["threads"] = torch.get_num_threads()
    record["framework"] = f"pytorch {torch.__version__}"
    if args.json:
        print(json.dumps(record), flush=True)
    else:
        extra = ""
        if "gflops" in record:
            extra += f"  {record['gflops']:8.1f} GFLOP/s"
        if "images_per_s" in record:
            extra += f"  {record['images_per_s']:8.1f} images/s"
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
    sim = sim.masked_fill(torch.eye(two_n, dtype=torch.bool), float("-inf"))
    targets = torch.cat([torch.arange(n, two_n), torch.arange(0, n)])
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


def convnet2():
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())


def bench_simclr_step(args, batch=256, size=32):
    name = f"simclr_step_convnet2_b{batch}_{size}px"
    if args.only not in name:
        return
    torch.manual_seed(3)
    encoder = convnet2()
    features = 64 * (size // 4) ** 2
    head = nn.Sequential(nn.Linear(features, 512), nn.ReLU(), nn.Linear(512, 128))
    params = list(encoder.parameters()) + list(head.parameters())
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=5e-4)
    views = torch.randn(2 * batch, 3, size, size)

    def step():
        loss = ntxent_composed(head(encoder(views)), 0.5)
        opt.zero_grad()
        loss.backward()
        opt.step()

    ms = median_ms(step, max(3, args.repeats // 2))
    report(args, {"workload": name, "median_ms": ms, "images_per_s": 2.0 * batch / (ms / 1e3)})


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--json", action="store_true")
    p.add_argument("--only", default="")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    with torch.no_grad():
        bench_gemm(args)
    bench_ntxent(args)
    bench_simclr_step(args)


if __name__ == "__main__":
    main()
