#!/usr/bin/env python3
"""Load an encoder saved by `ssl pretrain` into PyTorch and check that it gives the same features.

    build/bin/ssl pretrain --model mobilenet_v1 --epochs 1 --out runs/check
    build/bin/ssl embed --encoder runs/check --data synthetic:test:256 --out feats.npy --inputs-out inputs.npy
    python3 tools/load_in_pytorch.py --encoder runs/check --inputs inputs.npy --features feats.npy

DIR/encoder.safetensors holds the encoder's state_dict (PyTorch names) and the metadata "model" and
"image_size"; the PyTorch modules of the same architecture are in bench/torch_models.py. The model runs in
eval mode on the exact inputs `ssl embed` fed its encoder; the script prints the largest absolute difference
and the relative difference (largest absolute difference / largest |feature|) and exits with status 1 when
the relative difference exceeds --tolerance (1e-4).
"""
import argparse
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
import torch_models  # noqa: E402  (bench/torch_models.py)

DTYPES = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "BF16": torch.bfloat16,
          "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
          "BOOL": torch.bool}


def read_safetensors(path):
    """(tensors, metadata) of a safetensors file: an 8-byte little-endian header length, a JSON header
    {name: {dtype, shape, data_offsets}, "__metadata__": {...}}, then the raw little-endian data."""
    with open(path, "rb") as f:
        blob = f.read()
    (header_len,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + header_len])
    metadata = header.pop("__metadata__", {})
    data = blob[8 + header_len:]
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = DTYPES[info["dtype"]]
        flat = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype) if end > begin else torch.empty(0, dtype=dtype)
        tensors[name] = flat.reshape(info["shape"])
    return tensors, metadata


def load_encoder_file(path):
    """(tensors, metadata, reader): safetensors.torch when installed, else read_safetensors above."""
    try:
        from safetensors import safe_open
        from safetensors.torch import load_file
    except ImportError:
        tensors, metadata = read_safetensors(path)
        return tensors, metadata, "the built-in reader (safetensors is not installed)"
    with safe_open(path, framework="pt") as f:
        metadata = f.metadata() or {}
    return load_file(path), metadata, "safetensors.torch.load_file"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--encoder", required=True, help="a `ssl pretrain` output directory")
    p.add_argument("--inputs", required=True, help="the inputs `ssl embed --inputs-out` wrote, [N, 3, S, S]")
    p.add_argument("--features", required=True, help="the features `ssl embed --out` wrote, [N, F]")
    p.add_argument("--tolerance", type=float, default=1e-4, help="largest accepted relative difference")
    args = p.parse_args()

    path = os.path.join(args.encoder, "encoder.safetensors")
    state, metadata, reader = load_encoder_file(path)
    print(f"read {path} with {reader}: {len(state)} tensors, metadata {metadata}")
    if "model" not in metadata or "image_size" not in metadata:
        sys.exit(f"{path}: metadata must name the model and the image_size, got {metadata}")
    model = torch_models.make_encoder(metadata["model"], int(metadata["image_size"]))
    # Every name must match both ways, BatchNorm's num_batches_tracked included (`ssl` writes it as I64).
    model.load_state_dict(state, strict=True)
    model.eval()

    inputs = torch.from_numpy(np.load(args.inputs)).float()
    expected = np.load(args.features)
    with torch.no_grad():
        got = model(inputs).numpy()
    if got.shape != expected.shape:
        sys.exit(f"shape mismatch: PyTorch gives {got.shape}, {args.features} holds {expected.shape}")
    max_abs = float(np.abs(got.astype(np.float64) - expected).max())
    relative = max_abs / max(float(np.abs(expected).max()), 1e-30)
    print(f"{metadata['model']} at {metadata['image_size']} px, {got.shape[0]} images x {got.shape[1]} features: "
          f"max abs difference {max_abs:.3g}, relative {relative:.3g} (tolerance {args.tolerance:g})")
    if relative > args.tolerance:
        print("FAIL: the PyTorch features differ from the ones `ssl embed` wrote")
        sys.exit(1)
    print("OK: same features")


if __name__ == "__main__":
    main()
