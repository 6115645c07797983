#!/bin/bash
# tl_pipeline.sh: the real pipeline on a tiny product line — sl-train fit, sl-preprocess insert,
# TL stages 1 and 2 (with distillation), sl-preprocess split, and sl-train eval of the pair: the
# pair with the uint8 wire predicts exactly what the whole TL model predicts, and the wire bytes
# are those of the TL's wire tensor. Skipped (77) when sl-preprocess is not built.
set -eu
[ -x "$SL_BIN/sl-preprocess" ] || { echo "sl-preprocess not built: skipped"; exit 77; }
T="$SL_BIN/sl-train"
P="$SL_BIN/sl-preprocess"
rm -rf data pair ./*.h5 ./*.json
"$SL_BIN/sl-data" synth --product casting --size 32 --per-class 16 --seed 4 --out data 2>/dev/null
"$T" fit --data data --input 1x32x32 --epochs 2 --batch 16 -o base.h5 -q
"$P" insert base.h5 --at pool2 --tl conv-r4-s2-b8 -o tl.h5 2>/dev/null
"$T" fit --data data --model tl.h5 --tl-stage 1 --epochs 2 --optim adam --lr 0.005 --log s1.jsonl -o s1.h5 -q
"$T" fit --data data --model s1.h5 --tl-stage 2 --tl-teacher base.h5 --distill 4 --alpha 0.5 \
    --epochs 1 -o s2.h5 -q
"$P" split s2.h5 -o pair 2>/dev/null
"$T" eval --data data --pair pair/device.h5 pair/edge.h5 --json -o pair.json
"$T" eval --data data --model s2.h5 --batch 1 --json -o model.json
"$T" eval --data data --compare base.h5 s2.h5 --json -o compare.json
"$SL_PYTHON" - <<'PYEOF'
import json
pair, model, cmp = (json.load(open(f)) for f in ("pair.json", "model.json", "compare.json"))
log = [json.loads(l) for l in open("s1.jsonl")]
assert pair["wire_bytes_per_image"] == 8 * 4 * 4, pair["wire_bytes_per_image"]   # uint8 8x4x4
assert pair["confusion"] == model["confusion"], (pair["confusion"], model["confusion"])
assert pair["images"] == cmp["images"] == model["images"] > 0, pair["images"]
assert abs(cmp["accuracy_b"] - model["accuracy"]) < 1e-12
assert len(log) == 2 and log[1]["val_mse"] < log[0]["val_mse"], log
print("pair accuracy %.3f, wire %d bytes per image" % (pair["accuracy"], pair["wire_bytes_per_image"]))
PYEOF
