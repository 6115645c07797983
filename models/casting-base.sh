#!/usr/bin/env bash
# casting-base.sh: retrains models/casting-base.h5, the default line's mobilenet_v2 (1x128x128),
# from scratch with sl-train, by the seven chained runs of models/README.md (about 1.5 hours on
# two idle cores). `make demo RETRAIN=1` runs it.
#
#   models/casting-base.sh [BUILD_DIR] [OUT]
#
# BUILD_DIR defaults to build, OUT to models/casting-base.h5. The intermediate data sets and
# runs go to a scratch folder that is removed at the end; OUT is written only when the last run
# has finished (sl-train writes it through a temporary file).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}/bin
out=$(realpath -m "${2:-models/casting-base.h5}")
py=${SL_PYTHON:-/usr/bin/python3}
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
src=$PWD
cd "$w"
echo "casting-base: scratch folder $w, seven runs"
for s in 1:1000 2:4000 3:4000 4:4000; do
    "$src/$B/sl-data" synth --out c64-${s%%:*} --product casting --size 64 --per-class ${s##*:} --seed ${s%%:*}
done
for s in 5 6 7; do "$src/$B/sl-data" synth --out c128-$s --product casting --size 128 --per-class 2000 --seed $s; done
A=(--batch 32 --optim adam --schedule cosine --augment flip)
fit() { "$src/$B/sl-train" fit "$@"; }
fit --data c64-1 --arch mobilenet_v2 --input 1x64x64 --epochs 30 --lr 0.001 "${A[@]}" -o r1.h5
fit --data c64-2 --model r1.h5 --epochs 6 --lr 0.0005 "${A[@]}" -o r2.h5
fit --data c64-3 --model r2.h5 --epochs 8 --lr 0.0005 "${A[@]}" -o r3.h5
# run 4 was stopped after 3 of its 6 epochs; its epoch-3 checkpoint is what went on
fit --data c64-4 --model r3.h5 --epochs 6 --lr 0.0003 "${A[@]}" --checkpoint r4.ckpt --stop-after 3 -o r4.h5
# the 64 px weights into a 1x128x128 bundle (the network is convolutional up to its global pool)
"$py" "$src/bench/state_dict.py" r4.ckpt sd.h5
"$src/$B/sl-preprocess" import --state-dict sd.h5 --arch mobilenet_v2 --input 1x128x128 \
    --labels crack,flash,ok,porosity --mean 0.5 --std 0.25 -o r4-128.h5
fit --data c128-5 --model r4-128.h5 --epochs 3 --epoch-images 2800 --lr 0.0003 "${A[@]}" -o r5.h5
fit --data c128-6 --model r5.h5 --epochs 6 --epoch-images 2800 --lr 0.0003 "${A[@]}" -o r6.h5
fit --data c128-7 --model r6.h5 --epochs 5 --epoch-images 2800 --lr 0.0002 "${A[@]}" -o "$out"
echo "casting-base: wrote $out"
