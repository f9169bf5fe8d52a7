#!/usr/bin/env python3
r"""What, besides the shape, study A's views show and its encoders' features keep, measured on `synthetic`.

README's reading of study A asks two questions of the images themselves, and this answers both:

  crops       How much of the shape does a view keep? For each --crop-min-scale, boxes drawn as
              simclr_augment's RandomResizedCrop draws them (area min..1 of the image, aspect 3/4..4/3
              log-uniform, ten tries, then the whole image), ten per test image: the share of views that hold
              less than half of the shape's pixels, and of those that show almost none of it (under 2% of
              the view).
  nuisances   How much of what varies within a class do the frozen features keep? Ridge regressions from an
              encoder's standardised features to each image's background colour, foreground colour, shape
              area and shape centre, fitted on the training images (the ridge strength chosen on a held-out
              fifth of them), scored by R^2 on the test images (the mean over a group's outputs).

The shape is found in the input pixels: the background colour is the median of the two-pixel frame, and the
shape's pixels those further from it (in RGB) than half the furthest one. The images and features come from
`ssl embed`, exactly as the encoders see them, one pair of files per encoder and split:

    build/bin/ssl compare --study a --out runs/a
    for m in simclr rotation context; do
      for split in train:2000 test; do
        build/bin/ssl embed --encoder runs/a/$m --data synthetic:$split --out D/${m}_${split%%:*}.npy \
          --inputs-out D/${split%%:*}_inputs.npy
      done
    done
    build/bin/ssl embed --encoder random:convnet2 --data synthetic:train:2000 --out D/random_train.npy
    build/bin/ssl embed --encoder random:convnet2 --data synthetic:test --out D/random_test.npy
    python3 tools/views_and_nuisances.py --data-dir D --encoders simclr rotation context random

For seed K, the encoders under `ssl compare --study a --repeats 3`'s seed_K and `random:convnet2 --seed K`.
Only NumPy is needed. R^2 is unchanged by the per-channel normalisation of the inputs, so the normalised
images serve as well as the raw ones.
"""
import argparse
import os

import numpy as np


def shape_masks(images):
    """Background colour [n, 3] and shape mask [n, h, w] of normalised images [n, 3, h, w]."""
    n, c = images.shape[:2]
    frame = np.concatenate([images[:, :, :2, :].reshape(n, c, -1), images[:, :, -2:, :].reshape(n, c, -1),
                            images[:, :, :, :2].reshape(n, c, -1), images[:, :, :, -2:].reshape(n, c, -1)], 2)
    background = np.median(frame, axis=2)
    distance = np.linalg.norm(images - background[:, :, None, None], axis=1)
    furthest = distance.reshape(n, -1).max(1)
    return background, distance > 0.5 * furthest[:, None, None]


def nuisances(images):
    """What varies within a class, per image: {group name: [n, outputs]}."""
    background, mask = shape_masks(images)
    n, h, w = mask.shape
    pixels = mask.reshape(n, -1).sum(1)
    foreground = (images * mask[:, None]).reshape(n, 3, -1).sum(2) / pixels[:, None]
    ys, xs = np.mgrid[0:h, 0:w]
    centre = np.stack([(mask * xs).reshape(n, -1).sum(1), (mask * ys).reshape(n, -1).sum(1)], 1) / pixels[:, None]
    return {"background colour": background, "foreground colour": foreground,
            "shape area": (pixels / (h * w))[:, None], "shape centre": centre}


def crop_box(rng, h, w, min_scale):
    """One RandomResizedCrop box (x0, y0, width, height), drawn as data/transforms.cpp draws it."""
    for _ in range(10):
        target = h * w * rng.uniform(min_scale, 1.0)
        aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
        bw, bh = int(round(np.sqrt(target * aspect))), int(round(np.sqrt(target / aspect)))
        if 0 < bw <= w and 0 < bh <= h:
            return rng.integers(0, w - bw + 1), rng.integers(0, h - bh + 1), bw, bh
    return 0, 0, w, h  # the fallback for a square image: all of it


def report_crops(images, min_scales, views_per_image=10):
    _, mask = shape_masks(images)
    n, h, w = mask.shape
    rng = np.random.default_rng(0)
    for min_scale in min_scales:
        kept, almost_none = [], []
        for i in range(n):
            for _ in range(views_per_image):
                x0, y0, bw, bh = crop_box(rng, h, w, min_scale)
                inside = mask[i, y0:y0 + bh, x0:x0 + bw].sum()
                kept.append(inside / mask[i].sum())
                almost_none.append(inside < 0.02 * bw * bh)
        print(f"crop area {min_scale:g} to 1: {100 * np.mean(np.array(kept) < 0.5):.1f}% of views hold less "
              f"than half of the shape, {100 * np.mean(almost_none):.1f}% almost none of it")


def ridge_r2(train_x, train_y, test_x, test_y):
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    offset = train_y.mean(0)

    def fit(x, y, strength):
        return np.linalg.solve(x.T @ x + strength * np.eye(x.shape[1]), x.T @ (y - offset))

    def r2(x, y, weights):
        residual = y - (x @ weights + offset)
        return np.mean(1 - (residual ** 2).sum(0) / ((y - y.mean(0)) ** 2).sum(0))

    fifth = len(train_x) * 4 // 5
    strengths = [1e-2, 1e-1, 1, 10, 100, 1e3, 1e4]
    held_out = [r2(train_x[fifth:], train_y[fifth:], fit(train_x[:fifth], train_y[:fifth], s)) for s in strengths]
    return r2(test_x, test_y, fit(train_x, train_y, strengths[int(np.argmax(held_out))]))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True, help="the files ssl embed wrote (see above)")
    parser.add_argument("--encoders", nargs="*", default=[], help="names of the NAME_train/test.npy pairs")
    parser.add_argument("--crop-min-scale", type=float, nargs="*", default=[0.08, 0.5, 0.9])
    args = parser.parse_args()

    def load(name):
        return np.load(os.path.join(args.data_dir, name + ".npy"))

    train_images, test_images = load("train_inputs"), load("test_inputs")
    report_crops(test_images, args.crop_min_scale)
    train_targets, test_targets = nuisances(train_images), nuisances(test_images)
    for encoder in args.encoders:
        train_x, test_x = load(encoder + "_train"), load(encoder + "_test")
        scores = [f"{group} {ridge_r2(train_x, train_targets[group], test_x, test_targets[group]):.3f}"
                  for group in train_targets]
        print(f"{encoder:<10} R^2: " + ", ".join(scores))


if __name__ == "__main__":
    main()
