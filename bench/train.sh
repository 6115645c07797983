#!/bin/bash
# train.sh: trainer benchmarks (docs/benchmarks.md, "Training" and "Transfer-layer quality").
#
#   bench/train.sh speed   [BUILD]   images/s of base training and TL stages 1/2 at 32x32, 64x64
#                                    and 128x128 (SIZES) on 2 threads, sl-train's step (bench_train) beside
#                                    the same loop in PyTorch (bench/train_peer.py), same model
#                                    (resnet18 + conv-r4-s2-b8 TL at layer2.1), same batch and
#                                    same in-memory data, in one run
#   bench/train.sh epoch   [BUILD]   seconds per epoch of `sl-train fit` (base training from image
#                                    files: loader, steps, validation) beside the same epoch in
#                                    PyTorch (train_peer.py --data: ImageFolder + DataLoader), at
#                                    32x32 (SIZE) on a synthetic pcb set (PER_CLASS, default 300),
#                                    resnet18 with 4 classes, EPOCHS (default 2) per run, alternating
#                                    REPEAT times; the last epoch of each run counts; VAL_EXEC
#                                    (auto|compiled|plain) picks sl-train's validation path
#   bench/train.sh quality [BUILD]   the TL quality table on the default product line (casting):
#                                    base accuracy, pool TL and conv TL at r in {2,4,8}, s in {1,2},
#                                    bits in {32,8}, each fine-tuned (stage 1 + stage 2 with
#                                    distillation), split, and evaluated as a device + edge pair
#                                    with the real wire on the test split, with bytes per image
# BUILD defaults to build-main. Environment: STEPS (speed, default 5), REPEAT (2), BATCH (16),
# PER_CLASS (quality, default 400), SIZE (quality, default 64), STAGES (quality: later tensors
# stage 1 also matches, default relu3,globalpool; empty: the cut only), CUT (quality: the tinycnn
# tensor the TLs go at, default pool2; any other cut takes its later tensors from
# STAGES_AFTER_CUT, default none), DATA (quality: a product line,
# default casting, or "shapes" for the trainer tests' learnable 32 px set), WORK (scratch).
# For another architecture: ARCH (default tinycnn), BASE (a trained base bundle to use instead
# of training one, e.g. models/casting-base.h5 with DATA=casting SIZE=128 PER_CLASS=1000),
# TLS (the TL configurations, default all 13), S1_EPOCHS / S2_EPOCHS (default 30 / 20),
# S1_LR / S2_LR (0.005 / 0.003), EPOCH_IMAGES (images per fine-tuning epoch, default all),
# FT_THREADS (threads of each fine-tuning run and of the pair's evaluation, default sl-train's),
# S2_FREEZE (stage 2: node patterns to freeze, e.g. "features.*,classifier.*" trains the decoder
# alone; default: decoder and tail trained). Each stage logs its epochs to s1-TL.jsonl and
# s2-TL.jsonl in the work folder (val accuracy after each epoch).
set -eu
what=${1:-all}
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${2:-$SRC/build-main}
BUILD=$(cd "$BUILD" && pwd)  # the work folder is elsewhere: resolve a relative BUILD now
[ -z "${BASE:-}" ] || BASE=$(realpath "$BASE")  # and a relative BASE
BIN=$BUILD/bin
PY=/usr/bin/python3
WORK=${WORK:-$(mktemp -d /tmp/sl-bench-train.XXXXXX)}
STEPS=${STEPS:-5}
REPEAT=${REPEAT:-2}
BATCH=${BATCH:-16}
mkdir -p "$WORK"
cd "$WORK"
echo "# work folder $WORK; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

speed() {
    echo "| size | mode | sl-train img/s | PyTorch img/s | ratio | CPU ms/img sl / PyTorch | CPU ratio | loss (sl / PyTorch) |"
    echo "|---|---|---|---|---|---|---|---|"
    for size in ${SIZES:-32 64 128}; do
        "$BIN/sl-preprocess" zoo resnet18 --classes 4 --input 3x${size}x${size} -o r18-$size.h5 2>/dev/null
        "$BIN/sl-preprocess" insert r18-$size.h5 --at layer2.1 --tl conv-r4-s2-b8 -o r18tl-$size.h5 2>/dev/null
        for stage in 0 1 2; do
            model=r18-$size.h5
            [ "$stage" = 0 ] || model=r18tl-$size.h5
            args=(--batch "$BATCH" --steps "$STEPS" --threads 2)
            [ "$stage" = 0 ] || args+=(--tl-stage "$stage") # base training: no --tl-stage
            # Alternate the two REPEAT times and keep each one's best: on a shared machine the
            # load changes between runs.
            runs=()
            for _ in $(seq "$REPEAT"); do
                runs+=("$("$BUILD/bench/bench_train" "$model" "${args[@]}")")
                runs+=("$("$PY" "$SRC/bench/train_peer.py" "$model" "${args[@]}")")
            done
            "$PY" - "${runs[@]}" <<'PYEOF'
import json, sys
runs = [json.loads(r) for r in sys.argv[1:]]
a = max((r for r in runs if r["impl"] == "sl"), key=lambda r: r["images_per_s"])
b = max((r for r in runs if r["impl"] == "pytorch"), key=lambda r: r["images_per_s"])
ca = min(r["cpu_ms_per_image"] for r in runs if r["impl"] == "sl")
cb = min(r["cpu_ms_per_image"] for r in runs if r["impl"] == "pytorch")
print(f"| {a['size']} | {a['mode']} | {a['images_per_s']:.1f} | {b['images_per_s']:.1f} | "
      f"{a['images_per_s'] / b['images_per_s']:.2f} | {ca:.1f} / {cb:.1f} | {cb / ca:.2f} | "
      f"{a['loss']:.5f} / {b['loss']:.5f} |")
PYEOF
        done
    done
}

epoch() {
    local size=${SIZE:-32} epochs=${EPOCHS:-2} workers=${WORKERS:-2}
    [ -d pcb-$size ] || "$BIN/sl-data" synth --product pcb --size "$size" \
        --per-class "${PER_CLASS:-300}" --seed 1 --out pcb-$size 2>/dev/null
    "$BIN/sl-preprocess" zoo resnet18 --classes 4 --input 3x${size}x${size} -o r18e-$size.h5 2>/dev/null
    local val=()
    [ -z "${VAL_EXEC:-}" ] || val=(--val-exec "$VAL_EXEC")
    echo "| size | run | train s/epoch sl-train / PyTorch | ratio | val s sl-train (path) / PyTorch | whole run s sl-train / PyTorch |"
    echo "|---|---|---|---|---|---|"
    for r in $(seq "$REPEAT"); do
        rm -f sl-epoch.jsonl
        local t0=$(date +%s.%N)
        "$BIN/sl-train" fit --data pcb-$size --model r18e-$size.h5 --epochs "$epochs" --batch "$BATCH" \
            --threads 2 --workers "$workers" --log sl-epoch.jsonl -o epoch-out.h5 -q ${val[@]+"${val[@]}"}
        local t1=$(date +%s.%N)
        peer=$("$PY" "$SRC/bench/train_peer.py" r18e-$size.h5 --data pcb-$size --epochs "$epochs" \
            --batch "$BATCH" --threads 2 --workers "$workers")
        "$PY" - "$size" "$r" "$peer" sl-epoch.jsonl "$t0" "$t1" "$epochs" <<'PYEOF'
import json, sys
size, r, peer, log, t0, t1, epochs = sys.argv[1:]
p = json.loads(peer)
last = [json.loads(l) for l in open(log) if l.strip()][-1]
# sl-train logs the training part of the epoch ("seconds"); its validation is the rest of the
# process time per epoch, which also holds reading the bundle and writing the output once.
proc = float(t1) - float(t0)
# The log names validation's path and time from the trainer of session 10 on.
vs = f"{last['val_seconds']:.1f} ({last['val_exec']})" if "val_seconds" in last else "-"
print(f"| {size} | {r} | {last['seconds']:.1f} / {p['train_seconds']:.1f} | "
      f"{last['seconds'] / p['train_seconds']:.2f} | {vs} / {p['val_seconds']:.1f} | "
      f"{proc:.1f} / {p['seconds_per_epoch'] * int(epochs):.1f} ({epochs} epochs) |")
PYEOF
    done
}

quality() {
    local per=${PER_CLASS:-400} size=${SIZE:-64} data=${DATA:-casting} split=test
    if [ "$data" = shapes ]; then
        # The trainer tests' blob/clean/line set (32 px): a task tinycnn learns, for when the
        # product line does not.
        size=32 split=val
        [ -d shapes ] || "$BUILD/bench/bench_train" --write-shapes shapes "$per"
    else
        [ -d "$data" ] || "$BIN/sl-data" synth --product "$data" --size "$size" --per-class "$per" \
            --seed 1 --out "$data" 2>/dev/null
    fi
    if [ -n "${BASE:-}" ] && [ ! -f base.h5 ]; then
        cp "$BASE" base.h5
    fi
    if [ ! -f base.h5 ]; then
        "$BIN/sl-train" fit --data "$data" --arch "${ARCH:-tinycnn}" --input 1x${size}x${size} --epochs 24 \
            --optim adam --lr 0.005 --schedule cosine --augment flip --batch 32 \
            --log base.jsonl -o base.h5 -q
    fi
    acc() { "$PY" -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["accuracy"])'; }
    base=$("$BIN/sl-train" eval --model base.h5 --data "$data" --split $split --json | acc)
    cut=${CUT:-pool2}
    STAGES=${STAGES-relu3,globalpool}
    [ "$cut" = pool2 ] || STAGES=${STAGES_AFTER_CUT-}
    # The float cut tensor's size, as sl-preprocess insert reports it ("... instead of N").
    float_bytes=$("$BIN/sl-preprocess" insert base.h5 --at $cut --tl pool -o probe.h5 2>&1 |
        sed -n 's/.* instead of \([0-9]*\).*/\1/p')

    echo "| TL | wire bytes/image | vs float cut | test accuracy | change (points) |"
    echo "|---|---|---|---|---|"
    echo "| none (base, cut $cut float) | $float_bytes | 1x | $base | 0 |"
    tls=${TLS:-pool conv-r2-s1-b32 conv-r2-s1-b8 conv-r2-s2-b32 conv-r2-s2-b8 conv-r4-s1-b32 \
              conv-r4-s1-b8 conv-r4-s2-b32 conv-r4-s2-b8 conv-r8-s1-b32 conv-r8-s1-b8 \
              conv-r8-s2-b32 conv-r8-s2-b8}
    local ft_extra="${EPOCH_IMAGES:+--epoch-images $EPOCH_IMAGES} ${FT_THREADS:+--threads $FT_THREADS}"
    for tl in $tls; do
        "$BIN/sl-preprocess" insert base.h5 --at $cut --tl $tl -o tl-$tl.h5 2>/dev/null
        start=tl-$tl.h5
        if [ "$tl" != pool ]; then
            # stage 1 matches the cut and, after it, the tail's later tensors (STAGES): plain
            # reconstruction of the cut spends its capacity on what is large, not on the small
            # defect cues the tail's global max pool keys on
            "$BIN/sl-train" fit --data "$data" --model tl-$tl.h5 --tl-stage 1 --epochs "${S1_EPOCHS:-30}" \
                ${STAGES:+--tl-stages-at "$STAGES"} \
                --optim adam --lr "${S1_LR:-0.005}" --schedule cosine --batch 32 $ft_extra \
                --log s1-$tl.jsonl -o s1-$tl.h5 -q
            start=s1-$tl.h5
        fi
        "$BIN/sl-train" fit --data "$data" --model $start --tl-stage 2 --tl-teacher base.h5 \
            --distill 4 --alpha 0.5 --epochs "${S2_EPOCHS:-20}" --optim adam --lr "${S2_LR:-0.003}" --schedule cosine \
            --batch 32 --augment flip $ft_extra ${S2_FREEZE:+--freeze "$S2_FREEZE"} \
            --log s2-$tl.jsonl -o s2-$tl.h5 -q
        "$BIN/sl-preprocess" split s2-$tl.h5 -o pair-$tl >/dev/null 2>&1
        "$BIN/sl-train" eval --pair pair-$tl/device.h5 pair-$tl/edge.h5 --data "$data" --split $split \
            ${FT_THREADS:+--threads $FT_THREADS} --json > eval-$tl.json
        "$PY" - "$tl" "$base" "$float_bytes" eval-$tl.json <<'PYEOF'
import json, sys
tl, base, fb, path = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
j = json.load(open(path))
wb = j.get("wire_bytes_per_image", 0)
print(f"| {tl} | {wb:.0f} | {fb / wb:.0f}x smaller | {j['accuracy']:.4f} | "
      f"{100 * (j['accuracy'] - base):+.2f} |")
PYEOF
    done
}

case $what in
speed) speed ;;
epoch) epoch ;;
quality) quality ;;
all) speed; epoch; quality ;;
*) echo "usage: bench/train.sh [speed|epoch|quality|all] [BUILD]" >&2; exit 2 ;;
esac
