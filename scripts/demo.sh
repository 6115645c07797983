#!/usr/bin/env bash
# demo.sh: the whole pipeline on the default product line (configs/casting.json), then a live
# run: an edge server on loopback, the edge bundle deployed to it, the device slice run over the
# test images through a shaped link, and a summary. usage: scripts/demo.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
product=${PRODUCT:-casting}
out=out/$product
bin=$build/bin
t0=$(date +%s)

echo "== 1. pipeline for configs/$product.json (data, training, profiles, plan, TL, split, bench, report)"
make --no-print-directory -f pipeline.mk PRODUCT="$product" BUILD="$build" pipeline

echo
echo "== 2. live: edge server on loopback, deploy, device over a 10 Mbit/s link with 20 ms RTT"
live=$(mktemp -d)
trap 'kill $edge_pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$live"' EXIT
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$live/token"
"$bin/sl-offload" edge --listen 127.0.0.1:0 --port-file "$live/port" --store "$live/store" \
    --token-file "$live/token" 2>"$live/edge.log" &
edge_pid=$!
for _ in $(seq 50); do [ -s "$live/port" ] && break; sleep 0.1; done
edge=127.0.0.1:$(cat "$live/port")
"$bin/sl-offload" deploy --edge "$edge" --token-file "$live/token" "$out/edge.h5"
"$bin/sl-offload" device --edge "$edge" --token-file "$live/token" --model "$out/device.h5" \
    --images "$out/data/test" --bandwidth 10mbit --rtt 20ms --fallback "$out/base.h5" \
    -o "$out/device-results.jsonl" || echo "demo: some images ended in an error (see $out/device-results.jsonl)"
kill "$edge_pid"
wait "$edge_pid" 2>/dev/null || true

echo
echo "== 3. summary"
"$bin/sl-preprocess" report --dir "$out" --summary
echo "device results: $out/device-results.jsonl"
echo "plot:           $out/plan.svg"
echo "report:         $out/report.html"
echo "demo took $(( $(date +%s) - t0 )) s"
