#!/usr/bin/env bash
# Downloads the binary versions of CIFAR-10 and STL-10 from their authors' sites, checks them and unpacks
# them. Usage: scripts/download-datasets.sh DIR [cifar10|stl10|all]   (default all)
#
#   DIR/cifar-10-batches-bin/   CIFAR-10 (163 MB download)   -> ssl ... --data cifar10:DIR
#   DIR/stl10_binary/           STL-10  (2.6 GB download)    -> ssl ... --data stl10:DIR
#   (a spec may also name the sub-directory itself, e.g. cifar10:DIR/cifar-10-batches-bin)
#
# The archive's MD5 is checked before unpacking (CIFAR-10: the sum published on the dataset's page; STL-10: the
# sum torchvision and tensorflow-datasets check, as the page publishes none), then every extracted file's size.
# A dataset already unpacked with the right file sizes is not downloaded again. Needs curl or wget, tar, md5sum.
set -euo pipefail

usage() {
  echo "usage: $0 DIR [cifar10|stl10|all]" >&2
  exit 2
}
[[ $# -ge 1 && $# -le 2 ]] || usage
dest=$1
which=${2:-all}
case "$which" in cifar10 | stl10 | all) ;; *) usage ;; esac

CIFAR_URL=https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz
CIFAR_MD5=c32a1d4ab5d03f1284b67883e8d87530
STL_URL=http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz
STL_MD5=91f7769df0f17e558f3565bffb0c7dfb

# name:size pairs of the files each archive must unpack to (3073-byte records, 27648-byte images).
CIFAR_FILES=(data_batch_1.bin:30730000 data_batch_2.bin:30730000 data_batch_3.bin:30730000
  data_batch_4.bin:30730000 data_batch_5.bin:30730000 test_batch.bin:30730000 batches.meta.txt:)
STL_FILES=(train_X.bin:138240000 train_y.bin:5000 test_X.bin:221184000 test_y.bin:8000
  unlabeled_X.bin:2764800000 class_names.txt:)

mkdir -p "$dest"

fetch() { # url output
  if command -v curl > /dev/null; then
    curl -fL --retry 3 -C - -o "$2" "$1"
  elif command -v wget > /dev/null; then
    wget -c -O "$2" "$1"
  else
    echo "error: neither curl nor wget is installed" >&2
    exit 1
  fi
}

# Prints nothing and succeeds when every name:size file exists in dir with that size (any size when empty).
check_files() { # dir name:size...
  local dir=$1 ok=0 entry name size actual
  shift
  for entry in "$@"; do
    name=${entry%%:*}
    size=${entry#*:}
    if [[ ! -f "$dir/$name" ]]; then
      echo "  missing: $dir/$name" >&2
      ok=1
      continue
    fi
    actual=$(stat -c %s "$dir/$name")
    if [[ -n "$size" && "$actual" != "$size" ]]; then
      echo "  wrong size: $dir/$name has $actual bytes, expected $size" >&2
      ok=1
    fi
  done
  return $ok
}

get() { # label url md5 archive-name unpacked-dir files...
  local label=$1 url=$2 md5=$3 archive="$dest/$4" dir="$dest/$5"
  shift 5
  if check_files "$dir" "$@" 2> /dev/null; then
    echo "$label: already in $dir"
    return
  fi
  echo "$label: downloading $url"
  fetch "$url" "$archive"
  echo "$label: checking MD5"
  local sum
  sum=$(md5sum "$archive" | cut -d' ' -f1)
  if [[ "$sum" != "$md5" ]]; then
    echo "error: $archive has MD5 $sum, expected $md5 (a broken or partial download: delete it and rerun)" >&2
    exit 1
  fi
  echo "$label: unpacking into $dest"
  tar -xzf "$archive" -C "$dest"
  if ! check_files "$dir" "$@"; then
    echo "error: $label: the unpacked files in $dir are not as expected (see above)" >&2
    exit 1
  fi
  rm -f "$archive"
  echo "$label: ready in $dir"
}

if [[ "$which" == cifar10 || "$which" == all ]]; then
  get CIFAR-10 "$CIFAR_URL" "$CIFAR_MD5" cifar-10-binary.tar.gz cifar-10-batches-bin "${CIFAR_FILES[@]}"
fi
if [[ "$which" == stl10 || "$which" == all ]]; then
  get STL-10 "$STL_URL" "$STL_MD5" stl10_binary.tar.gz stl10_binary "${STL_FILES[@]}"
fi
