#!/usr/bin/env bash
# e2e_loopback.sh: edge + deploy + device on loopback give the predictions of `sl-offload run` on
# the whole model: identical classes and scores for the float split, for edge-only (raw image)
# and, against the un-split TL model, for the 8-bit TL pair (docs/insert-split.md: the device's
# quantiser computes the scale and zero point the TL model's does); every line is complete.
source "$(dirname "$0")/lib.sh"
make_fixtures 4
start_edge edge
E=127.0.0.1:$EDGE_PORT

"$OFF" deploy --edge "$E" --token-file "$W/token" "$W/e.h5" "$W/te.h5" "$W/m.h5" >"$W/deploy.jsonl"
[ "$(wc -l <"$W/deploy.jsonl")" = 3 ] || fail "deploy printed $(wc -l <"$W/deploy.jsonl") lines, not 3"
"$OFF" deploy --edge "$E" --token-file "$W/token" --list >"$W/list.json"
py "$W" <<'PY' || fail "deploy --list does not hold the three pair ids"
import json, sys, h5py
w = sys.argv[1]
listed = {b["pair_id"] for b in json.load(open(w + "/list.json"))["bundles"]}
deployed = {json.loads(l)["pair_id"] for l in open(w + "/deploy.jsonl")}
for f in ("e.h5", "te.h5"):
    pid = h5py.File(f"{w}/{f}", "r").attrs["pair_id"]
    pid = pid.decode() if isinstance(pid, bytes) else str(pid)
    assert pid in listed and pid in deployed, (f, pid, listed)
assert len(listed) == 3 and listed == deployed, (listed, deployed)
PY
pass "deploy installs the float and TL edge halves and the whole model; --list shows them"

"$OFF" run --model "$W/m.h5" --images "$W/data" --batch 1 -o "$W/ref.jsonl" 2>/dev/null
"$OFF" run --model "$W/tl.h5" --images "$W/data" --batch 1 -o "$W/ref-tl.jsonl" 2>/dev/null
"$OFF" device --edge "$E" --token-file "$W/token" --model "$W/d.h5" --images "$W/data" \
    -o "$W/split.jsonl" 2>"$W/split.log" || { cat "$W/split.log"; fail "device (float split)"; }
"$OFF" device --edge "$E" --token-file "$W/token" --model "$W/m.h5" --images "$W/data" \
    --pipeline 4 -o "$W/eo.jsonl" 2>"$W/eo.log" || { cat "$W/eo.log"; fail "device (edge-only)"; }
"$OFF" device --edge "$E" --token-file "$W/token" --model "$W/td.h5" --images "$W/data" \
    --pipeline 3 --bandwidth 20mbit --rtt 5ms -o "$W/tl.jsonl" 2>"$W/tl.log" \
    || { cat "$W/tl.log"; fail "device (8-bit TL split)"; }

py "$W" <<'PY'
import json, sys
w = sys.argv[1]
def load(name):
    rows = [json.loads(l) for l in open(f"{w}/{name}")]
    return rows
ref, ref_tl = load("ref.jsonl"), load("ref-tl.jsonl")
assert len(ref) == 16, len(ref)
for name, want in (("split.jsonl", ref), ("eo.jsonl", ref), ("tl.jsonl", ref_tl)):
    rows = load(name)
    summary = rows.pop()["summary"]
    assert summary["images"] == 16 and summary["edge"] == 16 and summary["errors"] == 0, (name, summary)
    assert len(rows) == len(want), (name, len(rows))
    for got, exp in zip(rows, want):
        assert got["file"] == exp["file"] and got["index"] == exp["index"], (name, got, exp)
        assert got["via"] == "edge", (name, got)
        t = got["timing"]
        assert all(t[k] >= 0 for k in t), (name, t)
        assert t["total_s"] + 1e-6 >= t["device_s"] + t["edge_s"], (name, t)
        assert got["bytes_up"] > 0 and got["bytes_down"] > 0, (name, got)
        assert got["class_index"] == exp["class_index"] and got["score"] == exp["score"], (name, got, exp)
    print(f"ok: {name}: {len(rows)} images: the classes and scores of sl-offload run, exactly")
PY
grep -q "16 by the edge, 0 by the fallback, 0 error" "$W/tl.log" || fail "no summary on stderr"
pass "device summary on stderr"
