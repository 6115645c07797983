#!/usr/bin/env bash
# device_edge.sh: the arm64 `sl-offload device` (under qemu-user) against a native edge on
# loopback answers every image: the float split of tinycnn (device half run on arm64, edge half
# on the build machine) gives, for each image, a line sent via the edge with the class of the
# native whole-model `sl-offload run` and a score within 1e-4 of it, and a summary of all images
# by the edge with no error. The images are decoded, resized and normalised on arm64; the score
# bound is the one of run_logits.sh (float kernels differ between the two architectures).
source "$(dirname "$0")/lib.sh"
arm64_fixtures 1
start_edge edge
E=127.0.0.1:$EDGE_PORT

"$OFF" deploy --edge "$E" --token-file "$W/token" "$W/e.h5" >/dev/null || fail "deploy"
"$OFF" run --model "$W/m.h5" --images "$W/data" --batch 1 -o "$W/ref.jsonl" 2>/dev/null \
    || fail "native run"
t0=$SECONDS
arm64 sl-offload device --edge "$E" --token-file "$W/token" --model "$W/d.h5" \
    --images "$W/data" --threads 1 -o "$W/split.jsonl" 2>"$W/split.log" \
    || { cat "$W/split.log"; fail "arm64 device (float split)"; }
pass "arm64 device under qemu took $((SECONDS - t0)) s"

py "$W" <<'PY'
import json, sys
w = sys.argv[1]
ref = [json.loads(l) for l in open(w + "/ref.jsonl")]
rows = [json.loads(l) for l in open(w + "/split.jsonl")]
summary = rows.pop()["summary"]
n = len(ref)
assert n >= 4, n
assert summary["images"] == n and summary["edge"] == n and summary["errors"] == 0, summary
assert len(rows) == n, (len(rows), n)
for got, exp in zip(rows, ref):
    assert got["file"] == exp["file"] and got["via"] == "edge", (got, exp)
    assert got["class_index"] == exp["class_index"], (got, exp)
    assert abs(got["score"] - exp["score"]) <= 1e-4, (got, exp)
    assert got["bytes_up"] > 0 and got["bytes_down"] > 0, got
print(f"ok: {n} images answered by the native edge for the arm64 device, classes as native")
PY
pass "arm64 device + native edge"
