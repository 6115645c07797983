#!/usr/bin/env bash
# pipeline_flat.sh: the whole pipeline through make on a flat folder of JPEGs (root/<class>/*.jpg,
# with a few BMPs), the layout and formats a factory's own photos come in (issue 15): it trains,
# fine-tunes, splits, evaluates and benches on the seeded test split, which sl-data list --link
# makes into a folder. With "train": false a given model goes through unchanged (base.h5 bit for
# bit). A split-folder dataset without test/ stops at the dataset step, before any training,
# with the reason.
set -u
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
rm -rf out out2 out3 flat flatpng cfg.json cfg2.json cfg3.json nosplit

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

"$SL_PYTHON" - "$SL_SRC/configs/ci-tiny.json" "$PWD/flat" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["product"] = "flat-jpeg"
c["dataset"] = {"path": sys.argv[2]}
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

# "train": false with a given model (the one just trained, standing in for an imported one):
# the pipeline profiles, plans and fine-tunes a TL on it, and base.h5 is that file, bit for bit.
"$SL_PYTHON" - "$PWD/out/base.h5" <<'PY'
import json, sys
c = json.load(open("cfg.json"))
c["model"] = {"bundle": sys.argv[1]}
c["train"] = False
c.pop("input", None)
json.dump(c, open("cfg3.json", "w"), indent=1)
PY
MK3=(make --no-print-directory -f "$SL_SRC/pipeline.mk" CFG="$PWD/cfg3.json" OUT="$PWD/out3" BIN="$SL_BIN")
if "${MK3[@]}" pipeline >make3.log 2>&1; then ok; else bad "make pipeline with train false failed"; tail -20 make3.log; fi
cmp -s out/base.h5 out3/base.h5 && ok || bad "base.h5 is not the given model bit for bit"
[ -s out3/tuned.h5 ] && [ -s out3/bench.json ] && ok || bad "no TL fine-tuned or bench with train false"
[ ! -e out3/base-metrics.jsonl ] && ok || bad "the base was trained (base-metrics.jsonl written)"

# train/ and val/ folders but no test/: refused at step 1, nothing trained.
mkdir -p nosplit
cp -r flat nosplit/train
cp -r flat nosplit/val
sed "s#$PWD/flat#$PWD/nosplit#" cfg.json >cfg2.json
MK2=(make --no-print-directory -f "$SL_SRC/pipeline.mk" CFG="$PWD/cfg2.json" OUT="$PWD/out2" BIN="$SL_BIN")
if "${MK2[@]}" pipeline >make2.log 2>&1; then bad "a dataset without test images went through"; else
    grep -q "has split folders but no test/" make2.log && ok || bad "no reason given: $(tail -3 make2.log)"
    [ ! -e out2/base.h5 ] && ok || bad "a base model was trained before the missing test split was found"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
