#!/bin/bash
# learn.sh: how learnable a synthetic product line is (docs/datasets.md, "How hard the synthetic
# lines are"): trains the zoo's tinycnn and resnet18 from random weights on an `sl-data synth`
# line at 64x64 with sl-train and reports test accuracy and the confusion of each.
#
#   bench/learn.sh [BUILD] [PRODUCT]     BUILD defaults to build-main, PRODUCT to casting
#
# Environment: PER_CLASS (default 800), SEED (1), SIZE (64), TINY_EPOCHS (30), R18_EPOCHS (20),
# MODELS ("tinycnn resnet18"), WORK (scratch folder, default a new one under /tmp).
# Recipes: tinycnn is the demo's (Adam 0.003, cosine, flips, batch 32); resnet18 Adam 0.001,
# cosine, flips + padded random crops, batch 32. Both see the train split (70%), keep the best
# epoch on the val split (15%) and are scored once on the test split (15%).
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build-main}
BUILD=$(cd "$BUILD" && pwd)
PRODUCT=${2:-casting}
BIN=$BUILD/bin
PER=${PER_CLASS:-800}
SEED=${SEED:-1}
SIZE=${SIZE:-64}
MODELS=${MODELS:-tinycnn resnet18}
WORK=${WORK:-$(mktemp -d /tmp/sl-bench-learn.XXXXXX)}
PY=/usr/bin/python3
mkdir -p "$WORK"
cd "$WORK"
echo "# work folder $WORK; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

data=$PRODUCT-$PER-$SEED
[ -d "$data" ] || "$BIN/sl-data" synth --product "$PRODUCT" --size "$SIZE" --per-class "$PER" \
    --seed "$SEED" --out "$data" >&2

rows=()
for arch in $MODELS; do
    case $arch in
    tinycnn) args=(--epochs "${TINY_EPOCHS:-30}" --lr 0.003 --augment flip) ;;
    resnet18) args=(--epochs "${R18_EPOCHS:-20}" --lr 0.001 --augment flip,crop) ;;
    *) echo "learn.sh: no recipe for '$arch' (tinycnn, resnet18)" >&2; exit 2 ;;
    esac
    t0=$(date +%s)
    "$BIN/sl-train" fit --data "$data" --arch "$arch" --input 3x${SIZE}x${SIZE} --batch 32 \
        --optim adam --schedule cosine --seed 1 "${args[@]}" --log "$arch.jsonl" -o "$arch.h5" -q
    t1=$(date +%s)
    "$BIN/sl-train" eval --model "$arch.h5" --data "$data" --split test >&2
    "$BIN/sl-train" eval --model "$arch.h5" --data "$data" --split test --json > "$arch.eval.json"
    rows+=("$arch" "$((t1 - t0))")
done

"$PY" - "$PRODUCT" "$PER" "$SIZE" "${rows[@]}" <<'PYEOF'
import json, sys
product, per, size, rest = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
print(f"| product | per class | model | size | epochs | best val | test accuracy | train time |")
print("|---|---|---|---|---|---|---|---|")
for arch, secs in zip(rest[0::2], rest[1::2]):
    log = [json.loads(l) for l in open(f"{arch}.jsonl")]
    ev = json.load(open(f"{arch}.eval.json"))
    best = max(r["val_acc"] for r in log)
    print(f"| {product} | {per} | {arch} | {size} | {len(log)} | {100 * best:.1f}% | "
          f"{100 * ev['accuracy']:.1f}% | {int(secs) // 60} min {int(secs) % 60} s |")
PYEOF
