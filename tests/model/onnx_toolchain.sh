#!/usr/bin/env bash
# onnx_toolchain.sh: the rest of the toolchain works unchanged on an imported ONNX graph. The
# hand-written squeeze-excite CNN of onnx_export.py (branches, channel shuffle, grouped and
# depthwise conv, SE gates, pad, clip) is exported by PyTorch, imported with labels, and then
# profiled on both hosts, planned, given a TL at the plan's cut, fine-tuned (TL stage 1), split,
# evaluated as a device + edge pair and offloaded to an edge on loopback; its base is also
# trained and run. Each step must succeed and hand the next what it needs.
set -euo pipefail
# $1: onnx_export.py's folder (the fixture model/onnx_export), holding toolchain/m.onnx: the
# SECNN of onnx_export.py with 4 classes, exported at opset 13.
EXPORTS=$1
B=$SL_BIN
PY=${SL_PYTHON:-/usr/bin/python3}
rm -rf work && mkdir work && cd work
fail() { echo "FAIL: $*"; exit 1; }

cp "$EXPORTS/toolchain/m.onnx" m.onnx || fail "export"
"$B/sl-preprocess" import --onnx m.onnx --labels crack,flash,ok,porosity -o m.h5 2>/dev/null ||
    fail "import"
"$B/sl-data" synth --product casting --size 32 --per-class 12 --seed 1 --out d 2>/dev/null
# Back to back (--idle-gap 0): the default 20 ms before each timed range made each profile
# about 3 s of waiting here, and the plan's choice is the same (the gap is test_profile_idle's).
for host in device:1 edge:2; do
    "$B/sl-preprocess" profile m.h5 --images d/val --threads "${host#*:}" --warmup 1 --repeats 2 \
        --tl conv-r2-s2-b8 --idle-gap 0 -o "${host%%:*}.json" 2>/dev/null || fail "profile ${host%%:*}"
done
# A slow link, so that a TL split is worth planning.
"$B/sl-preprocess" select --device device.json --edge edge.json --bandwidth 1mbit --rtt 20ms \
    -o plan.json >/dev/null 2>&1 || fail "select"
"$PY" - <<'PYEOF' || fail "plan.json has no TL plan at an imported node"
import json
p = json.load(open("plan.json"))
b = p["best_with_tl"]
assert b and b["tl"] == "conv-r2-s2-b8" and b["cut"]["tensor"], b
print("plan: TL at", b["cut"]["tensor"])
PYEOF
"$B/sl-preprocess" insert m.h5 --plan plan.json --use best_with_tl -o tl.h5 2>/dev/null || fail "insert"
"$B/sl-train" fit --model tl.h5 --data d --tl-stage 1 --epochs 1 --batch 8 -q -o s1.h5 ||
    fail "TL stage 1"
"$B/sl-preprocess" split s1.h5 -o pair >/dev/null 2>&1 || fail "split"
"$B/sl-train" eval --pair pair/device.h5 pair/edge.h5 --data d --split test --json >pair.json ||
    fail "eval of the pair"
# Offloaded for real: an edge on loopback serves the imported pair's edge half, the device half
# runs here and sends its wire over the protocol.
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >token
chmod 600 token
"$B/sl-offload" edge --listen 127.0.0.1:0 --port-file port --store store --token-file token \
    2>edge.log &
EDGE_PID=$!
trap 'kill $EDGE_PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s port ] && break; sleep 0.1; done
[ -s port ] || fail "edge did not start: $(tail -2 edge.log)"
"$B/sl-offload" deploy --edge "127.0.0.1:$(cat port)" --token-file token pair/edge.h5 >/dev/null 2>&1 ||
    fail "deploy: $(tail -2 edge.log)"
"$B/sl-offload" device --edge "127.0.0.1:$(cat port)" --token-file token --model pair/device.h5 \
    --images d/test -o device.jsonl 2>device.log || fail "device: $(tail -2 device.log)"
kill $EDGE_PID
wait $EDGE_PID 2>/dev/null || true
"$B/sl-train" fit --model m.h5 --data d --epochs 1 --batch 8 -q -o base.h5 || fail "base training"
"$B/sl-offload" run --model base.h5 --images d/test -o run.jsonl 2>/dev/null || fail "run"
"$PY" - <<'PYEOF' || fail "results"
import glob, json
n = len(glob.glob("d/test/*/*.png"))
e = json.load(open("pair.json"))
assert n > 0 and e["images"] == n and 0 < e["wire_bytes_per_image"] < 2048, (n, e)
lines = [json.loads(l) for l in open("run.jsonl")]
assert len(lines) == n and all(l["class"] in ("crack", "flash", "ok", "porosity") for l in lines)
dev = [json.loads(l) for l in open("device.jsonl")]
summary = [d["summary"] for d in dev if "summary" in d]
dev = [d for d in dev if "summary" not in d]
assert len(dev) == n and all(d["via"] == "edge" for d in dev), dev[:2]
assert summary and summary[0]["edge"] == n and summary[0]["errors"] == 0, summary
print(f"pair: {e['wire_bytes_per_image']:.0f} bytes per image; device over loopback: {n} answered "
      f"by the edge; run: {len(lines)} images classified")
PYEOF
echo "ok: imported ONNX graph profiled, planned, TL inserted, fine-tuned, split, evaluated, offloaded, trained, run"
