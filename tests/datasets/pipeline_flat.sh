#!/usr/bin/env bash
# pipeline_flat.sh: the whole pipeline through make on a flat folder of JPEGs (root/<class>/*.jpg,
# with a few BMPs), the layout and formats a factory's own photos come in (issue 15), with
# "train": false and a given model (a zoo tinycnn standing in for an imported one): it goes
# through unchanged (base.h5 bit for bit, nothing trained), is profiled, planned, given a TL
# fine-tuned on the flat folder, split, evaluated and benched on the seeded test split, which
# sl-data list --link makes into a folder. A split-folder dataset without test/ stops at the
# dataset step, before any training, with the reason.
# One pipeline run, not two: training on the flat folder is the TL stages' `sl-train fit` here
# (the same --data, loader and split as the base's), and training the base through make is
# tests/pipeline/pipeline.sh's.
set -u
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
rm -rf out out2 flat flatpng cfg.json cfg2.json nosplit given.h5

"$SL_BIN/sl-data" synth --product casting --out flatpng --size 32 --per-class 24 --seed 3 \
    --splits none >synth.log 2>&1 || { cat synth.log; exit 1; }
"$SL_PYTHON" - <<'PY' || { echo "FAIL: converting to JPEG"; exit 1; }
import glob, os
from PIL import Image
for i, p in enumerate(sorted(glob.glob("flatpng/*/*.png"))):
    cls, name = p.split("/")[1:]
    os.makedirs(os.path.join("flat", cls), exist_ok=True)
    ext, kw = (".bmp", {}) if i % 10 == 0 else (".jpg", {"quality": 92})
    Image.open(p).save(os.path.join("flat", cls, name[:-4] + ext), **kw)
PY
[ -z "$(find flat -name '*.png')" ] && ok || bad "PNG files left in the JPEG folder"

# The given model: 4 classes, the folder's, in their sorted order.
"$SL_BIN/sl-preprocess" zoo tinycnn --input 3x32x32 --labels crack,flash,ok,porosity -o given.h5 \
    >zoo.log 2>&1 || { cat zoo.log; exit 1; }
# cfg.json: the CI config on the flat folder with the given model; cfg2.json: the CI config as
# it is (training) on a folder of split folders without test/, which is refused before training.
"$SL_PYTHON" - "$SL_SRC/configs/ci-tiny.json" "$PWD/flat" "$PWD/given.h5" "$PWD/nosplit" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["product"] = "flat-jpeg"
c["dataset"] = {"path": sys.argv[4]}
json.dump(c, open("cfg2.json", "w"), indent=1)
c["dataset"] = {"path": sys.argv[2]}
c["model"] = {"bundle": sys.argv[3]}
c["train"] = False
c.pop("input", None)
json.dump(c, open("cfg.json", "w"), indent=1)
PY
MK=(make --no-print-directory -f "$SL_SRC/pipeline.mk" CFG="$PWD/cfg.json" OUT="$PWD/out" BIN="$SL_BIN")
if "${MK[@]}" pipeline >make1.log 2>&1; then ok; else
    bad "make pipeline on a flat JPEG folder failed"; tail -30 make1.log
    echo "$pass passed, $fail failed"; exit 1
fi
for f in base.h5 plan.json tuned.h5 device.h5 edge.h5 eval-base.json eval-pair.json bench.json report.html; do
    [ -s "out/$f" ] && ok || bad "out/$f is missing or empty"
done
cmp -s given.h5 out/base.h5 && ok || bad "base.h5 is not the given model bit for bit"
[ ! -e out/base-metrics.jsonl ] && ok || bad "the base was trained (base-metrics.jsonl written)"
"$SL_PYTHON" - <<'PY' && ok || bad "artefact contents"
import json, os
stats = json.load(open("out/data-stats.json"))
assert stats["layout"] == "imagefolder" and stats["count"] == 96, (stats["layout"], stats["count"])
# the test split as links: one folder per class, as many images as the evaluation used
links = [os.path.join(d, f) for d, _, fs in os.walk("out/test-images") for f in fs]
assert all(os.path.islink(p) and os.path.exists(p) for p in links), links[:3]
eb = json.load(open("out/eval-base.json"))
assert eb["images"] == len(links) > 0, (eb["images"], len(links))
assert sorted(os.listdir("out/test-images")) == ["crack", "flash", "ok", "porosity"]
assert any(p.endswith(".jpg") for p in links) and any(p.endswith(".bmp") for p in links)
bench = json.load(open("out/bench.json"))
for m in bench["modes"]:
    assert m["errors"] == 0, ("bench", m["mode"], m["errors"])
PY

# sl-offload run reads the JPEG/BMP test folder; --logits adds logits whose argmax is the class
"$SL_BIN/sl-offload" run --model out/base.h5 --images out/test-images --logits >run.jsonl 2>run.err \
    && ok || bad "sl-offload run on the test images: $(tail -2 run.err)"
"$SL_PYTHON" - <<'PY' && ok || bad "run --logits lines"
import json
rows = [json.loads(l) for l in open("run.jsonl")]
assert len(rows) == 16, len(rows)
for r in rows:
    lg = r["logits"]
    assert len(lg) == 4 and max(range(4), key=lambda k: lg[k]) == r["class_index"], r
PY

# train/ and val/ folders but no test/: refused at step 1, nothing trained.
mkdir -p nosplit
cp -r flat nosplit/train
cp -r flat nosplit/val
MK2=(make --no-print-directory -f "$SL_SRC/pipeline.mk" CFG="$PWD/cfg2.json" OUT="$PWD/out2" BIN="$SL_BIN")
if "${MK2[@]}" pipeline >make2.log 2>&1; then bad "a dataset without test images went through"; else
    grep -q "has split folders but no test/" make2.log && ok || bad "no reason given: $(tail -3 make2.log)"
    [ ! -e out2/base.h5 ] && ok || bad "a base model was trained before the missing test split was found"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
