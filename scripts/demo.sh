#!/usr/bin/env bash
# demo.sh: the whole pipeline on the default product line (configs/casting.json: mobilenet_v2 at
# 128 px on an emulated Raspberry-Pi-4-class device), then a live run: an edge server on
# loopback, the edge bundle deployed to it, the device slice run over the test images through a
# shaped link, the same bundles over the slower second line (configs/casting-2mbit.json's link),
# and a summary checked against the product's targets.
#
#   scripts/demo.sh [BUILD_DIR]
#
# Environment: PRODUCT (default casting; casting-tiny is the small tinycnn line); RETRAIN=1 trains
# the base model from scratch instead of using the shipped one (models/$PRODUCT-base.h5): with
# models/$PRODUCT-base.sh (the runs of models/README.md), else with the config's train section.
# `make demo RETRAIN=1` passes it through.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
product=${PRODUCT:-casting}
out=out/$product
bin=$build/bin
shipped=models/$product-base.h5
retrain=${RETRAIN:-0}
t0=$(date +%s)
mk() { make --no-print-directory -f pipeline.mk PRODUCT="$product" BUILD="$build" "$@"; }

echo "== 1. pipeline for configs/$product.json (data, training, profiles, plan, TL, split, bench, report)"
mk "$out/dataset.stamp"
if [ -f "$shipped" ] && [ "$retrain" != 1 ]; then
    # The shipped base model stands in for step 2 (training): copied in when it differs, made
    # newer than its inputs when make would otherwise retrain it.
    if ! cmp -s "$shipped" "$out/base.h5"; then
        cp "$shipped" "$out/base.h5.tmp" && mv "$out/base.h5.tmp" "$out/base.h5"
    elif ! mk -q "$out/base.h5" 2>/dev/null; then
        touch "$out/base.h5"
    fi
    echo "base model: $shipped (shipped; RETRAIN=1 trains it here instead, see models/README.md)"
elif [ "$retrain" = 1 ] && [ -x "models/$product-base.sh" ]; then
    # A base that takes more than the config's one training run (models/README.md) is retrained
    # by its own script into the line's out folder; the shipped file is left as it is.
    echo "base model: RETRAIN=1, training it from scratch with models/$product-base.sh (about 1.5 hours)"
    "models/$product-base.sh" "$build" "$out/base.h5"
elif [ -f "$shipped" ] && cmp -s "$shipped" "$out/base.h5" 2>/dev/null; then
    rm -f "$out/base.h5"
    echo "base model: RETRAIN=1, training it from scratch (configs/$product.json, train section)"
fi
mk pipeline

# The emulated weak device of the config (profile.device_cpu): the live device and the second
# line's bench run at the same share of a core, with the same threads, as its profile.
cpu=$(sed -n 's/.*--cpu \([0-9.]*\).*/\1/p' "$out/cfg/profile-device.args")
threads=$(sed -n 's/.*--threads \([0-9]*\).*/\1/p' "$out/cfg/profile-device.args")
cpu_args=()
[ -z "$cpu" ] || cpu_args=(--cpu "$cpu")
[ -z "$threads" ] || cpu_args+=(--threads "$threads")

echo
echo "== 2. live: edge server on loopback, deploy, device over a 10 Mbit/s link with 20 ms RTT${cpu:+ (device: $cpu% of a core)}"
live=$(mktemp -d)
trap 'kill $edge_pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$live"' EXIT
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$live/token"
chmod 600 "$live/token"
"$bin/sl-offload" edge --listen 127.0.0.1:0 --port-file "$live/port" --store "$live/store" \
    --token-file "$live/token" 2>"$live/edge.log" &
edge_pid=$!
for _ in $(seq 50); do [ -s "$live/port" ] && break; sleep 0.1; done
edge=127.0.0.1:$(cat "$live/port")
"$bin/sl-offload" deploy --edge "$edge" --token-file "$live/token" "$out/edge.h5"
"$bin/sl-offload" device --edge "$edge" --token-file "$live/token" --model "$out/device.h5" \
    --images "$out/test-images" --bandwidth 10mbit --rtt 20ms --fallback "$out/base.h5" ${cpu_args[@]+"${cpu_args[@]}"} \
    -o "$out/device-results.jsonl" || echo "demo: some images ended in an error (see $out/device-results.jsonl)"
kill "$edge_pid"
wait "$edge_pid" 2>/dev/null || true

# The second line: the same profiles give its own plan; the same bundles are measured on it.
# (configs/casting-2mbit.json runs the whole pipeline for that line, with a TL tuned for it.)
slow_bw=2mbit slow_rtt=50ms
echo
echo "== 3. the same bundles on a $slow_bw line with $slow_rtt RTT (plan from the same profiles)"
sel=$(sed -e "s/--bandwidth [^ ]*/--bandwidth $slow_bw/" -e "s/--rtt [^ ]*/--rtt $slow_rtt/" "$out/cfg/select.args")
eval "\"$bin/sl-preprocess\" select --device \"$out/profile-device.json\" --edge \"$out/profile-edge.json\" $sel --top 5 -o \"$out/plan-$slow_bw.json\"" \
    >"$out/plan-$slow_bw.txt"
cat "$out/plan-$slow_bw.txt"
limit=$(sed -n 's/.*--limit \([0-9]*\).*/\1/p' "$out/cfg/bench.args")
"$bin/sl-offload" bench --model "$out/base.h5" --pair "$out/notl-device.h5" "$out/notl-edge.h5" \
    --tl-pair "$out/device.h5" "$out/edge.h5" --plan "$out/plan-$slow_bw.json" --images "$out/test-images" \
    --limit "${limit:-60}" --bandwidth "$slow_bw" --rtt "$slow_rtt" ${cpu_args[@]+"${cpu_args[@]}"} \
    --json >"$out/bench-$slow_bw.json"

echo
echo "== 4. summary"
"$bin/sl-pipeline" report --dir "$out" --summary
echo
/usr/bin/python3 - "$out" "$slow_bw" <<'PYEOF'
# The product's targets, checked on the files the pipeline wrote (docs/benchmarks.md,
# "Default line (demo)"): each line says the figure, the target and whether it is met.
import json, sys
out, slow = sys.argv[1], sys.argv[2]
def load(name):
    with open(f"{out}/{name}") as f:
        return json.load(f)
base, pair, plan = load("eval-base.json"), load("eval-pair.json"), load("plan.json")
def mark(ok):
    return "met" if ok else "NOT MET"
d = 100 * (pair["accuracy"] - base["accuracy"])
print(f"accuracy: base {100 * base['accuracy']:.2f}%, pair with TL {100 * pair['accuracy']:.2f}% "
      f"({d:+.2f} points; target >= -1.00: {mark(d >= -1.0)}), {base['images']} test images")
tl = plan.get("best_with_tl") or {}
cut = tl.get("cut") or {}
wire = pair.get("wire_bytes_per_image", 0)
if cut and wire:
    r = cut["bytes"] / wire
    print(f"bytes: {wire} B per image with TL {tl.get('tl')} at cut '{cut['tensor']}' "
          f"(float cut {cut['bytes']} B, {r:.1f}x fewer; target >= 16x: {mark(r >= 16)})")
for name, label in (("bench.json", "plan line"), (f"bench-{slow}.json", f"{slow} line")):
    try:
        b = load(name)
    except OSError:
        continue
    m = {x["mode"]: x for x in b["modes"]}
    bw, rtt = b["bandwidth_bps"] / 1e6, b["rtt_s"] * 1e3
    print(f"{label}: {bw:g} Mbit/s, {rtt:g} ms RTT, {b['images']} images, median per image:")
    for k in ("local", "edge-only", "split", "split+tl"):
        if k in m:
            x = m[k]
            p = x["predicted_s"]
            if p is None or p <= 0:
                # No plan for this mode: the config's constraints rule it out (the raw image
                # stays on the device), so the run shows what it would have cost.
                print(f"  {k:10s} {1e3 * x['median_s']:8.1f} ms  not planned (excluded by the "
                      f"config's constraints)  {x['bytes_per_image']} B")
                continue
            err = f"{100 * (p - x['median_s']) / x['median_s']:+.0f}%"
            print(f"  {k:10s} {1e3 * x['median_s']:8.1f} ms  predicted {1e3 * p:8.1f} ms ({err}, "
                  f"target within 10%: {mark(abs(p - x['median_s']) <= 0.1 * x['median_s'])})"
                  f"  {x['bytes_per_image']} B")
    if "split+tl" in m and "local" in m:
        t = m["split+tl"]["median_s"]
        s_local = m["local"]["median_s"] / t
        others = [m[k]["median_s"] for k in ("local", "edge-only", "split") if k in m]
        s_best = min(others) / t
        print(f"  split+tl speed-up: {s_local:.3g}x over local (target >= 2x: {mark(s_local >= 2)}), "
              f"{s_best:.3g}x over the best mode without TL, edge-only included "
              f"(target >= 1.5x: {mark(s_best >= 1.5)})")
    edge_only = (plan.get("per_cut") or [{}])[0].get("without_tl") or {}
    if "edge-only" in m and edge_only.get("allowed") is False:
        print(f"  edge-only (excluded by the constraints: the raw image stays on the device) would have "
              f"taken {1e3 * m['edge-only']['median_s']:.1f} ms and sent {m['edge-only']['bytes_per_image']} B per image")
PYEOF
echo "device results: $out/device-results.jsonl"
echo "plot:           $out/plan.svg"
echo "report:         $out/report.html"
echo "demo took $(( $(date +%s) - t0 )) s"
