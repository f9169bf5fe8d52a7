#!/usr/bin/env python3
r"""Study A's SimCLR and rotation rows again, written independently in PyTorch, on the same images.

It answers one question: is the order `ssl compare --study a` finds on synthetic (rotation ahead of SimCLR) a
property of the data and the budget, or of this project's implementation? The images come from `ssl embed`,
which writes them exactly as the encoders see them:

    build/bin/ssl embed --encoder random:convnet2 --data synthetic:train:2000 --out D/train.npy \
        --inputs-out D/train_inputs.npy
    build/bin/ssl embed --encoder random:convnet2 --data synthetic:test --out D/test.npy \
        --inputs-out D/test_inputs.npy
    python3 tools/study_a_in_pytorch.py --data-dir D --method simclr      # also: rotation, random

The recipe is the study's: ConvNet2 and SimCLR's projection head from bench/torch_models.py, Adam (lr 1e-3,
weight decay 1e-6), one warm-up epoch then a cosine schedule, batch 128, 10 epochs; SimCLR's views take a random
resized crop (area --crop-min-scale to 1), a flip, colour jitter (0.4, 0.4, 0.4, 0.1 with p = 0.8, in a random
order per batch) and grayscale (p = 0.2); rotation sees all four quarter turns of each crop (area 0.5 to 1) and
flip; both drop the last partial batch. The probe is the linear protocol's: standardised frozen features of pool1
or pool2 (whichever does better on a fifth of each class's training images when fitted on the rest), Adam (lr
1e-3, weight decay 1e-4), batch 256, 60 epochs. It prints the test Top-1.
"""
import argparse
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
import torch_models  # noqa: E402  (bench/torch_models.py)
from pytorch_reference import ntxent_composed  # noqa: E402  (bench/pytorch_reference.py: NT-Xent in plain torch)

MEAN, STD = 0.5, 0.25  # every encoder here sees (x / 255 - 0.5) / 0.25


def load(data_dir, split):
    images = torch.from_numpy(np.load(os.path.join(data_dir, f"{split}_inputs.npy"))) * STD + MEAN
    labels = torch.from_numpy(np.load(os.path.join(data_dir, f"{split}_labels.npy"))).long()
    return images, labels


def random_resized_crop_flip(x, min_scale, ratio=(3 / 4, 4 / 3)):
    """Each image's crop (area and aspect drawn as torchvision draws them), resized back and flipped half the time,
    as one bilinear resampling."""
    n = x.shape[0]
    area = torch.empty(n).uniform_(min_scale, 1.0)
    aspect = torch.exp(torch.empty(n).uniform_(math.log(ratio[0]), math.log(ratio[1])))
    w = torch.sqrt(area * aspect).clamp(max=1.0)  # fractions of the side
    h = torch.sqrt(area / aspect).clamp(max=1.0)
    cx = (torch.rand(n) * (1 - w) + w / 2) * 2 - 1  # centres in [-1, 1]
    cy = (torch.rand(n) * (1 - h) + h / 2) * 2 - 1
    flip = torch.where(torch.rand(n) < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = w * flip, cx, h, cy
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def luma(x):
    return 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]


def shift_hue(x, shift):
    """RGB -> HSV, hue + shift (in turns), -> RGB."""
    maxc, argmax = x.max(1, keepdim=True)
    minc = x.min(1, keepdim=True).values
    span = (maxc - minc).clamp(min=1e-8)
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    h = torch.where(argmax == 0, (g - b) / span, torch.where(argmax == 1, 2 + (b - r) / span, 4 + (r - g) / span))
    h = torch.remainder(h / 6 + shift, 1.0)
    s = torch.where(maxc > 0, (maxc - minc) / maxc.clamp(min=1e-8), torch.zeros_like(maxc))
    v = maxc
    k = torch.remainder(torch.tensor([5.0, 3.0, 1.0]).view(1, 3, 1, 1) + h * 6, 6)
    return v - v * s * (torch.minimum(k, 4 - k).clamp(0, 1))


def colour_jitter_grayscale(x, strength=0.5):
    n = x.shape[0]
    factor = lambda s: torch.empty(n, 1, 1, 1).uniform_(max(0.0, 1 - s), 1 + s)
    y = x
    for op in torch.randperm(4).tolist():
        if op == 0:
            y = (y * factor(0.8 * strength)).clamp(0, 1)
        elif op == 1:
            m = luma(y).mean(dim=(2, 3), keepdim=True)
            y = ((y - m) * factor(0.8 * strength) + m).clamp(0, 1)
        elif op == 2:
            g = luma(y)
            y = ((y - g) * factor(0.8 * strength) + g).clamp(0, 1)
        else:
            y = shift_hue(y, torch.empty(n, 1, 1, 1).uniform_(-0.2 * strength, 0.2 * strength))
    jittered = (torch.rand(n, 1, 1, 1) < 0.8).float()
    y = jittered * y + (1 - jittered) * x
    gray = (torch.rand(n, 1, 1, 1) < 0.2).float()
    return gray * luma(y).expand_as(y) + (1 - gray) * y


def pretrain(encoder, images, a):
    simclr = a.method == "simclr"
    head = torch_models.projection_head(encoder.feature_dim) if simclr else nn.Linear(encoder.feature_dim, 4)
    params = list(encoder.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=a.lr, weight_decay=1e-6)
    steps = len(images) // a.batch_size  # the last partial batch is dropped, as ssl's SimCLR and rotation drop it
    total, step, start = steps * a.epochs, 0, time.time()
    for epoch in range(a.epochs):
        order, losses = torch.randperm(len(images)), []
        for b in range(steps):
            x = images[order[b * a.batch_size:(b + 1) * a.batch_size]]
            if step < steps:  # the first epoch warms up linearly, then a cosine decays to 0
                lr = a.lr * (step + 1) / steps
            else:
                lr = 0.5 * a.lr * (1 + math.cos(math.pi * (step - steps) / (total - steps)))
            for group in opt.param_groups:
                group["lr"] = lr
            if simclr:
                views = torch.cat([colour_jitter_grayscale(random_resized_crop_flip(x, a.crop_min_scale))
                                   for _ in range(2)])
                loss = ntxent_composed(head(encoder((views - MEAN) / STD)), a.temperature)
            else:
                x = random_resized_crop_flip(x, 0.5)
                turned = torch.cat([torch.rot90(x, k, (2, 3)) for k in range(4)])
                loss = F.cross_entropy(head(encoder((turned - MEAN) / STD)), torch.arange(4).repeat_interleave(len(x)))
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            losses.append(loss.item())
        print(f"epoch {epoch + 1}/{a.epochs}: loss {np.mean(losses):.4f} ({time.time() - start:.0f} s)", flush=True)


def pooled_features(encoder, images):
    """{pool1, pool2}: ConvNet2's two max-pool outputs, flattened."""
    encoder.eval()
    out, h = {}, (images - MEAN) / STD
    with torch.no_grad():
        for i, layer in enumerate(encoder):
            h = layer(h)
            if i == 2:
                out["pool1"] = h.flatten(1)
    out["pool2"] = h
    return out


def probe_top1(train_x, train_y, test_x, test_y, classes):
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    linear = nn.Linear(train_x.shape[1], classes)
    opt = torch.optim.Adam(linear.parameters(), lr=1e-3, weight_decay=1e-4)
    for _ in range(60):
        order = torch.randperm(len(train_x))
        for b in range(0, len(train_x), 256):
            i = order[b:b + 256]
            loss = F.cross_entropy(linear(train_x[i]), train_y[i])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        return 100.0 * (linear(test_x).argmax(1) == test_y).float().mean().item()


def split_off_a_fifth_per_class(labels, seed):
    """Rows to fit on and rows held out: a fifth of each class (one of a class with two or more), in an order
    shuffled by the seed, as `ssl eval --layer best` holds them out."""
    g = torch.Generator().manual_seed(seed)
    fit, held = [], []
    for c in labels.unique().tolist():
        rows = (labels == c).nonzero().flatten()
        rows = rows[torch.randperm(len(rows), generator=g)]
        k = 0 if len(rows) < 2 else max(1, len(rows) // 5)
        held += rows[:k].tolist()
        fit += rows[k:].tolist()
    return sorted(fit), sorted(held)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", required=True, help="holds train_inputs.npy, train_labels.npy, test_inputs.npy, "
                   "test_labels.npy as `ssl embed` writes them")
    p.add_argument("--method", choices=["simclr", "rotation", "random"], required=True)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--temperature", type=float, default=0.2)
    p.add_argument("--crop-min-scale", type=float, default=0.08, help="SimCLR's smallest crop area")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)

    train_x, train_y = load(a.data_dir, "train")
    test_x, test_y = load(a.data_dir, "test")
    encoder = torch_models.convnet2(train_x.shape[-1])
    if a.method != "random":
        pretrain(encoder, train_x, a)
    train_f, test_f = pooled_features(encoder, train_x), pooled_features(encoder, test_x)
    classes = int(train_y.max()) + 1
    fit, held = split_off_a_fifth_per_class(train_y, a.seed)
    held_out = {layer: probe_top1(f[fit], train_y[fit], f[held], train_y[held], classes)
                for layer, f in train_f.items()}
    layer = max(held_out, key=held_out.get)
    top1 = probe_top1(train_f[layer], train_y, test_f[layer], test_y, classes)
    print(f"{a.method}: linear probe @ {layer} (held-out {held_out[layer]:.2f}%): test Top-1 {top1:.2f}%")


if __name__ == "__main__":
    main()
