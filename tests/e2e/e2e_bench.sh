#!/usr/bin/env bash
# e2e_bench.sh: `sl-offload bench` as the pipeline calls it, on a tiny model with a real plan:
# exactly the sl-bench document, four modes with sane values (edge-only sends C*H*W raw bytes, the
# TL fewer bytes than the float split, the RTT shows in every remote latency, float modes agree
# with local on every image, predictions from the plan), the table, and nothing left behind.
# TMPDIR is private to this test, so the count of sl-bench.* stores sees only this bench's.
mkdir -p "$PWD/tmp"
TMPDIR=$(mktemp -d "$PWD/tmp/run.XXXXXX")
export TMPDIR
source "$(dirname "$0")/lib.sh"
trap 'cleanup; rm -rf "$TMPDIR"' EXIT
make_fixtures 4
# The benches of the model alone (no link, no plan) run beside the profile and the main bench,
# which mostly waits out its 20 ms RTT; each has a TMPDIR of its own, so the count of stores
# below sees only the main bench's, and each is checked for its own.
alone() {
    local name=$1
    shift
    mkdir -p "$TMPDIR/$name"
    TMPDIR="$TMPDIR/$name" "$OFF" bench --model "$W/m.h5" --images "$W/data/test" --limit 3 "$@" \
        2>"$W/$name.err"
}
alone table >"$W/table.txt" &
table_pid=$!
# The two also run as a slow device: one intra-op thread is timed by its own thread's CPU
# time (the in-process edge's threads are not the device's), more by the process's.
alone rounds1 --rounds 1 --cpu 50 --json >"$W/r1.json" &
r1_pid=$!
alone rounds9 --rounds 9 --cpu 50 --threads 1 --json >"$W/r9.json" &
r9_pid=$!
alone localonly --local-only --json >"$W/local-only.json" &
lo_pid=$!
"$PRE" profile "$W/m.h5" --warmup 1 --repeats 3 --tl conv-r4-s2-b8 -o "$W/prof.json" 2>/dev/null
"$PRE" select --device "$W/prof.json" --edge "$W/prof.json" --bandwidth 10mbit --rtt 20ms \
    -o "$W/plan.json" >/dev/null 2>&1
before=$(ls "$TMPDIR" | grep -c '^sl-bench\.' || true)

"$OFF" bench --model "$W/m.h5" --pair "$W/d.h5" "$W/e.h5" --tl-pair "$W/td.h5" "$W/te.h5" \
    --plan "$W/plan.json" --images "$W/data" --limit 8 --bandwidth 10mbit --rtt 20ms --json \
    >"$W/bench.json" 2>"$W/bench.log" || { cat "$W/bench.log"; fail "bench failed"; }
grep -q "^split+tl " "$W/bench.log" || fail "no table on stderr with --json"

py "$W/bench.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert set(d) == {"format", "version", "images", "rounds", "bandwidth_bps", "rtt_s", "modes",
                  "speedup_vs_local", "plan_choice", "measured_fastest", "device_cpu_percent"}, set(d)
assert d["format"] == "sl-bench" and d["version"] == 1 and d["images"] == 8, d
# The default: four rounds of two images through every mode in turn.
assert d["rounds"] == 4, d
assert d["bandwidth_bps"] == 1e7 and d["rtt_s"] == 0.02, d
names = [m["mode"] for m in d["modes"]]
assert names == ["local", "edge-only", "split", "split+tl"], names
keys = {"mode", "median_s", "p95_s", "throughput_ips", "bytes_per_image", "wire_bytes_per_image",
        "predicted_s", "predicted_bytes", "error", "error_over_limit", "breakdown", "agree_with_local",
        "errors"}
m = {x["mode"]: x for x in d["modes"]}
for x in d["modes"]:
    assert set(x) == keys, set(x)
    assert set(x["breakdown"]) == {"device_s", "encode_s", "transfer_s", "edge_s"}, x
    assert all(v >= 0 for v in x["breakdown"].values()), x
    assert x["errors"] == 0 and x["median_s"] > 0 and x["p95_s"] >= x["median_s"], x
    assert x["throughput_ips"] > 0 and x["predicted_s"] > 0, x
    assert 0 <= x["agree_with_local"] <= 1, x
# Local is the reference the others are compared with (its own agreement is 1 by definition and
# not a check); the float modes must give local's class on every image.
for name in ("edge-only", "split", "split+tl"):
    x = m[name]
    assert x["median_s"] >= 0.02, (name, "the 20 ms RTT is missing", x)
    assert x["breakdown"]["transfer_s"] >= 0.02 and x["breakdown"]["edge_s"] > 0, x
    assert abs(d["speedup_vs_local"][name] - m["local"]["median_s"] / x["median_s"]) < 1e-9
assert m["local"]["bytes_per_image"] == 0 and m["local"]["breakdown"]["transfer_s"] == 0
assert m["edge-only"]["bytes_per_image"] == 3 * 32 * 32, m["edge-only"]
assert m["split"]["bytes_per_image"] == 16 * 16 * 16 * 4, m["split"]
assert 0 < m["split+tl"]["bytes_per_image"] < m["split"]["bytes_per_image"], m["split+tl"]
for name in ("edge-only", "split"):
    assert m[name]["agree_with_local"] == 1, (name, m[name])
plan = json.load(open(sys.argv[1].replace("bench.json", "plan.json")))
local = [e["without_tl"] for e in plan["per_cut"] if e["without_tl"]["cut"]["kind"] == "local-only"][0]
assert m["local"]["predicted_s"] == local["latency_s"]["total"]
at_pool1 = [e["without_tl"] for e in plan["per_cut"] if e["without_tl"]["cut"]["tensor"] == "pool1"][0]
assert m["split"]["predicted_s"] == at_pool1["latency_s"]["total"], "split not predicted at its own cut"
print("ok: sl-bench document: " + ", ".join(f"{x['mode']} {x['median_s']*1e3:.1f} ms ({x['predicted_s']*1e3:.1f} predicted), {x['bytes_per_image']:.0f} B" for x in d["modes"]))
PY

after=$(ls "$TMPDIR" | grep -c '^sl-bench\.' || true)
[ "$after" = "$before" ] || fail "bench left its edge store behind"
pass "bench leaves no temporary store"

wait $table_pid || fail "bench with the model only"
grep -q "^edge-only " "$W/table.txt" && ! grep -q "^split" "$W/table.txt" \
    || fail "model-only bench table: $(cat "$W/table.txt")"
pass "without pairs: local and edge-only only, table on stdout"

# Rounds: at most one per image; one round is each mode's images in one block.
wait $r1_pid || fail "bench --rounds 1"
wait $r9_pid || fail "bench --rounds 9"
for r in "1 1" "9 3"; do
    set -- $r
    py "$W/r$1.json" "$2" <<'PY' || fail "--rounds $1"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["rounds"] == int(sys.argv[2]) and d["images"] == 3, d
assert all(m["errors"] == 0 for m in d["modes"]), d
PY
done
"$OFF" bench --model "$W/m.h5" --images "$W/data/test" --rounds 0 2>/dev/null && rc=0 || rc=$?
[ "$rc" = 2 ] || fail "--rounds 0 exited $rc"
grep -q "dilated .* until the process's CPU time" "$W/rounds1.err" \
    || fail "--cpu 50: not timed by the process's CPU time: $(cat "$W/rounds1.err")"
grep -q "dilated .* until the thread's CPU time" "$W/rounds9.err" \
    || fail "--cpu 50 --threads 1: not timed by the device thread's CPU time: $(cat "$W/rounds9.err")"
# --local-only: local alone, no edge (so no store either); refused beside a pair.
wait $lo_pid || fail "bench --local-only"
py "$W/local-only.json" <<'PY' || fail "--local-only ran other modes"
import json, sys
d = json.load(open(sys.argv[1]))
assert [m["mode"] for m in d["modes"]] == ["local"] and d["modes"][0]["errors"] == 0, d
PY
"$OFF" bench --model "$W/m.h5" --pair "$W/d.h5" "$W/e.h5" --images "$W/data/test" --local-only \
    2>/dev/null && rc=0 || rc=$?
[ "$rc" = 2 ] || fail "--local-only with --pair exited $rc"
for name in table rounds1 rounds9 localonly; do
    [ -z "$(ls -A "$TMPDIR/$name")" ] || fail "bench ($name) left its edge store behind"
done
pass "--rounds: capped at the images, 0 refused; --local-only alone; no temporary store left"

"$OFF" bench --model "$W/m.h5" --pair "$W/d.h5" --images "$W/data/test" 2>/dev/null && rc=0 || rc=$?
[ "$rc" = 2 ] || fail "--pair with one file exited $rc"
"$OFF" bench --model "$W/nope.h5" --images "$W/data/test" 2>"$W/err.log" && rc=0 || rc=$?
[ "$rc" = 1 ] && grep -q "nope.h5" "$W/err.log" || fail "missing model: exit $rc, $(cat "$W/err.log")"
pass "usage and runtime errors"
