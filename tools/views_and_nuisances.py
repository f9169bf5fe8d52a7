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
              area and shape centre, fitted on the training images (each group's ridge strength chosen on a
              held-out fifth of them), scored by R^2 on the test images (the mean over a group's outputs).

The shape is found in the input pixels: the background colour is the median of the two-pixel frame, and the
shape's pixels those further from it (in RGB) than half the furthest one. The images and features come from
`ssl embed`, exactly as the encoders see them, one pair of files per encoder and split:

    build/bin/ssl compare --study a --out runs/a
    for split in train:2000 test; do
      s=${split%%:*}
      build/bin/ssl embed --encoder random:convnet2 --data synthetic:$split --out D/random_$s.npy \
        --inputs-out D/${s}_inputs.npy
      for m in simclr rotation context; do
        build/bin/ssl embed --encoder runs/a/$m --data synthetic:$split --out D/${m}_$s.npy
      done
    done
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


def nuisances(images, background, mask):
    """What varies within a class, per image: {group name: [n, outputs]}."""
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


def report_crops(mask, min_scales, views_per_image=10):
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


def ridge_fits(x, y, strengths):
    """Ridge weights [features, outputs] for every strength, from one eigendecomposition of x^T x."""
    values, vectors = np.linalg.eigh(x.T @ x)
    projected = vectors.T @ (x.T @ y)
    return [vectors @ (projected / (values + strength)[:, None]) for strength in strengths]


def r2_per_output(x, y, weights):
    return 1 - ((y - x @ weights) ** 2).sum(0) / ((y - y.mean(0)) ** 2).sum(0)


def ridge_r2(train_x, train_targets, test_x, test_targets):
    """Test R^2 of each group of targets, its ridge strength chosen on a held-out fifth of the training images."""
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    groups = list(train_targets)
    columns = np.cumsum([0] + [train_targets[g].shape[1] for g in groups])
    offset = np.concatenate([train_targets[g] for g in groups], 1).mean(0)
    train_y = np.concatenate([train_targets[g] for g in groups], 1) - offset
    test_y = np.concatenate([test_targets[g] for g in groups], 1) - offset

    strengths = [1e-2, 1e-1, 1, 10, 100, 1e3, 1e4]
    fifth = len(train_x) * 4 // 5
    held_out = np.array([r2_per_output(train_x[fifth:], train_y[fifth:], w)
                         for w in ridge_fits(train_x[:fifth], train_y[:fifth], strengths)])
    test = np.array([r2_per_output(test_x, test_y, w) for w in ridge_fits(train_x, train_y, strengths)])
    scores = {}
    for g, group in enumerate(groups):
        lo, hi = columns[g], columns[g + 1]
        best = int(np.argmax(held_out[:, lo:hi].mean(1)))
        scores[group] = test[best, lo:hi].mean()
    return scores


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True, help="the files ssl embed wrote (see above)")
    parser.add_argument("--encoders", nargs="*", default=[], help="names of the NAME_train/test.npy pairs")
    parser.add_argument("--crop-min-scale", type=float, nargs="*", default=[0.08, 0.5, 0.9])
    args = parser.parse_args()

    def load(name):
        return np.load(os.path.join(args.data_dir, name + ".npy"))

    train_images, test_images = load("train_inputs"), load("test_inputs")
    test_background, test_mask = shape_masks(test_images)
    report_crops(test_mask, args.crop_min_scale)
    train_targets = nuisances(train_images, *shape_masks(train_images))
    test_targets = nuisances(test_images, test_background, test_mask)
    for encoder in args.encoders:
        train_x, test_x = load(encoder + "_train"), load(encoder + "_test")
        scores = ridge_r2(train_x, train_targets, test_x, test_targets)
        print(f"{encoder:<10} R^2: " + ", ".join(f"{group} {r2:.3f}" for group, r2 in scores.items()))


if __name__ == "__main__":
    main()
