#!/usr/bin/env bash
# The main job: pre-train SimCLR on a dataset (the built-in synthetic one by default), then evaluate it and
# a randomly initialised encoder of the same architecture with the linear probe, and print both.
# Usage: scripts/quickstart.sh [EPOCHS] [TRAIN_SPEC] [TEST_SPEC]
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-15}
train=${2:-synthetic:train}
test=${3:-synthetic:test}
run=runs/quickstart
# A new run refuses a directory holding an old one: the quickstart's own directory starts over.
if [ -e "$run" ]; then
  echo "removing the previous quickstart run in $run"
  rm -rf "$run"
fi
build/bin/ssl pretrain --method simclr --data "$train" --model convnet2 --epochs "$epochs" --out "$run/simclr"
build/bin/ssl eval --encoder "$run/simclr" --protocol linear --train "$train" --test "$test" --out "$run/eval_simclr"
build/bin/ssl eval --encoder random:convnet2 --protocol linear --train "$train" --test "$test" --out "$run/eval_random"
if ! command -v python3 >/dev/null; then
  echo "(python3 is not installed, so no summary: each evaluation's table above has the figures)"
  exit 0
fi
python3 - "$run" <<'PY'
import json, sys
run = sys.argv[1]
print("\nlinear probe, test split        top1     top5")
for name in ("simclr", "random"):
    r = json.load(open(f"{run}/eval_{name}/results.json"))["splits"]["test"]
    print(f"  {name:<28} {100*r['top1']:6.2f}%  {100*r['top5']:6.2f}%")
PY
