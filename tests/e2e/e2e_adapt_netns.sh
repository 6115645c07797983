#!/usr/bin/env bash
# e2e_adapt_netns.sh: the adaptive device on a real link whose rate changes under it (issue 16).
# An edge and a device in two network namespaces, joined by a veth pair with tc tbf at 20 Mbit/s;
# mid-run `tc qdisc change` lowers the rate to 1 Mbit/s, then raises it back. The device, given a
# table of two plans (the float split at pool1, 16 kB per image, and local-only) and an image
# every 40 ms (the rate changes follow its progress: after 30 answers, and 25 images after it
# went local-only), must switch to local-only within 8 images of the first answer slowed by the
# drop and back to the split within 8 images of its first probe that saw the rise (on local-only
# its estimate goes stale after --stale 1s, and it probes; `tc qdisc change` on a loaded host
# took up to 5 images to apply, so the bounds count from what the device saw);
# every image is answered once, and every class is that of the whole model (the float split is
# exact, so no TL accuracy is given up). Skips (77) only when the machine cannot make network
# namespaces (bench/netns_link.sh); with SL_REQUIRE_NETNS=1 a skip is a failure.
source "$(dirname "$0")/lib.sh"
: "${SL_SRC:?}"
NL_TAG=sl$$a
source "$SL_SRC/bench/netns_link.sh"
nl_probe
trap 'nl_cleanup; cleanup' EXIT
# 160 images (40 ms each): on the idle machine the switch back came at about image 90 (the drop
# after 30 answers, 25 on local-only, a probe within the 1 s --stale), so the split still runs
# about 70 images (2.8 s, well past --stale) after it; 240 ran 150 more, 3.2 s longer alone.
make_fixtures 40
mkdir -p "$W/store"
cp "$W/e.h5" "$W/store/"
# The whole model's classes, computed while the link is set up and the edge starts.
"$OFF" run --model "$W/m.h5" --images "$W/data" --batch 1 -o "$W/ref.jsonl" 2>"$W/ref.log" &
REF=$!
H=$(printf 'b%.0s' $(seq 64))
cat >"$W/table.json" <<EOF
{"format": "sl-plan-table", "version": 1, "model": "tinycnn", "graph_hash": "$H", "cloud": false,
 "plans": [
  {"id": 0, "kind": "slice", "cut": {"index": 2, "tensor": "pool1", "kind": "slice"},
   "cut2": null, "tl": null, "fixed_s": 0.004, "upload_bytes": 16384, "pays_rtt": true},
  {"id": 1, "kind": "local-only", "cut": {"index": 9, "tensor": "fc", "kind": "local-only"},
   "cut2": null, "tl": null, "fixed_s": 0.04, "upload_bytes": 0, "pays_rtt": false}],
 "links": [{"bandwidth_bps": 1e6, "rtt_s": 0, "plan": 1}, {"bandwidth_bps": 2e7, "rtt_s": 0, "plan": 0}]}
EOF
cat >"$W/plans.json" <<'EOF'
{"format": "sl-plan-bundles", "version": 1, "table": "table.json",
 "pairs": [{"plan": 0, "device": "d.h5", "edge": "e.h5"}, {"plan": 1, "device": "m.h5", "edge": null}]}
EOF

nl_setup 20mbit 0
nsenter "${NL_EDGE[@]}" "$OFF" edge --listen 10.79.1.1:0 --port-file "$W/port" --store "$W/store" \
    --token-file "$W/token" 2>"$W/edge.log" &
EDGE_PIDS+=($!)
for _ in $(seq 100); do [ -s "$W/port" ] && break; sleep 0.1; done
[ -s "$W/port" ] || { cat "$W/edge.log"; fail "the edge did not start"; }
# (done before the device starts, whose link estimate another process's CPU would disturb)
wait $REF || fail "the whole model's run failed: $(cat "$W/ref.log")"
nsenter "${NL_DEV[@]}" "$OFF" device --edge "10.79.1.1:$(cat "$W/port")" --token-file "$W/token" \
    --plans "$W/plans.json" --images "$W/data" --every 40ms --stale 1s -o "$W/run.jsonl" \
    2>"$W/run.log" &
dev=$!
# The timeline follows the device's progress, not the clock, so that a slow or loaded host
# changes its duration but not what it tests: the drop after 30 answers, the rise once the
# device has been on local-only for 25 images (and its estimate gone stale), and a wait for the
# end long enough for a loaded host (about 8 s on an idle one).
answers() {
    local n
    n=$(grep -c '"via"' "$W/run.jsonl" 2>/dev/null) || true
    echo "${n:-0}"
}
await() { # await WHAT CONDITION...: polls for up to 120 s
    local what=$1 i
    shift
    for i in $(seq 1200); do "$@" && return 0; kill -0 $dev 2>/dev/null || break; sleep 0.1; done
    cat "$W/run.log"
    fail "$what"
}
n_at_least() { [ "$(answers)" -ge "$1" ]; }
on_local() { grep -q '"switch":{[^}]*"to":1' "$W/run.jsonl"; }
await "30 answers at 20 Mbit/s" n_at_least 30
date +%s.%N >"$W/down"
nl_rate 1mbit
await "a switch to local-only at 1 Mbit/s" on_local
n=$(answers)
await "25 answers on local-only" n_at_least $((n + 25))
date +%s.%N >"$W/up"
nl_rate 20mbit
for _ in $(seq 3000); do kill -0 $dev 2>/dev/null || break; sleep 0.1; done
kill -0 $dev 2>/dev/null && fail "the device did not finish in 300 s"
wait $dev || { cat "$W/run.log"; fail "the device failed"; }

py "$W" <<'PY'
import json, sys
w = sys.argv[1]
ref = [json.loads(l) for l in open(f"{w}/ref.jsonl")]
lines = [json.loads(l) for l in open(f"{w}/run.jsonl")]
s = lines.pop()["summary"]
sw = [l["switch"] for l in lines if "switch" in l]
rows = [l for l in lines if "switch" not in l]
down, up = (float(open(f"{w}/{n}").read()) for n in ("down", "up"))
assert [r["index"] for r in rows] == list(range(len(ref))), "each image answered once, in order"
assert s["errors"] == 0 and s["fallback"] == 0, s
assert [r["class_index"] for r in rows] == [r["class_index"] for r in ref], "classes differ"
assert rows[0]["plan"] == 0, ("starts on the split at the table's 20 Mbit/s", rows[0])
first = lambda t: next(r["index"] for r in rows if r["start_unix_s"] >= t)
i_down, i_up = first(down), first(up)
to_local = [x for x in sw if x["to"] == 1 and x["index"] >= i_down]
to_split = [x for x in sw if x["to"] == 0 and x["index"] >= i_up]
assert [x for x in sw if x["index"] < i_down] == [], ("flapped at 20 Mbit/s", sw)
assert to_local and to_local[0]["index"] < i_up, ("no switch to local-only at 1 Mbit/s", sw)
d = to_local[0]
# Bounds count from the first answer that saw the new rate: on a loaded host `tc qdisc change`
# itself took 5 images (40 ms each) to apply. 10 kB take 4 ms at 20 Mbit/s, 80 ms at 1.
slow = lambda r: r["timing"]["transfer_s"] > 0.03
i_seen = next((r["index"] for r in rows[i_down:] if r["plan"] == 0 and slow(r)), i_down)
assert d["index"] - i_seen <= 8, ("late switch down", d, i_down, i_seen)
assert d["bandwidth_bps"] < 5e6, d
assert to_split, ("no switch back at 20 Mbit/s", sw)
u = to_split[0]
# On local-only the link is seen through probes: the first one after the rise comes once the
# estimate is stale (--stale 1s); from it, the switch is bounded in images like the drop.
probes_up = [r["index"] for r in rows if r.get("probe") and r["start_unix_s"] >= up]
assert probes_up, "no probe after the rise"
fast_up = [i for i in probes_up if not slow(rows[i])] or probes_up
assert u["index"] - fast_up[0] <= 8, ("late switch up", u, probes_up[0], fast_up[0])
t_probe = rows[probes_up[0]]["start_unix_s"] - up
t_u = rows[u["index"]]["start_unix_s"] - up
assert u["bandwidth_bps"] > 5e6, u
assert all(r["plan"] == 1 or r.get("probe") for r in rows[d["index"]:u["index"]]), "probes only"
assert all(r["plan"] == 0 for r in rows[u["index"]:]), "stays on the split"
print(f"ok: {len(rows)} images, once each, classes of the whole model; down: switch "
      f"{d['index'] - i_down} images after the drop ({d['index'] - i_seen} after it was seen) "
      f"({rows[d['index']]['start_unix_s'] - down:.2f} s, estimate {d['bandwidth_bps']/1e6:.2f} Mbit/s); "
      f"up: first probe {t_probe:.2f} s after the rise, switch {u['index'] - probes_up[0]} images "
      f"after it ({u['index'] - i_up} images, {t_u:.2f} s after the rise, {u['bandwidth_bps']/1e6:.1f} Mbit/s); "
      f"{s['probes']} probes, {s['switches']} switches")
PY
