#!/usr/bin/env bash
# fleet.sh: throughput and p95 latency of 1, 2, 3 ... edges behind HAProxy (scripts/fleet.sh) on
# this machine, with enough devices to saturate them, then one long run with the edge RSS at its
# start and end.
#
#   bench/fleet.sh [--build DIR] [--edges "1 2 3"] [--devices N] [--images N] [--threads T]
#                  [--long N] [--pipeline P] [--json FILE]
#
# The model is tinycnn (3x32x32) run edge-only: each device sends the raw image and the edge runs
# the whole model, so the work sits on the edges. Each configuration: a fresh fleet of E edges
# (--threads T workers each, default 1), --devices devices at once (default 12, --pipeline 2),
# each classifying --images images (default 150). Requests/s is the fleet's answers per second
# while every device is running (the edges' sl_edge_results_total read from /metrics at two
# moments: all devices have started, the first one has finished), so device start-up is left
# out; p95 is over every image's total_s as the devices measured it. Scaling efficiency =
# (req/s with E edges) / (E x req/s with 1 edge). The long run: 3 edges (the largest of --edges),
# --long requests in all (default 20000) spread over the devices; devices, requests, errors, and
# each edge's VmRSS after the deploy (start) and after the run (end).
# Prints a markdown table; --json FILE writes the figures. Exit 77 without haproxy.
# On one machine the edges share its cores (and here a training run): E edges cannot scale like
# E hosts; see docs/benchmarks.md, "Fleet".
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$here/build edges="1 2 3" devices=12 images=150 threads=1 long=20000 pipeline=2 json=""
source "$here/bench/lib.sh"
bench_options 22 --build=build --edges=edges --devices=devices --images=images --threads=threads \
    --long=long --pipeline=pipeline --json=json -- "$@"
command -v haproxy >/dev/null || { echo "bench/fleet.sh: haproxy is not installed" >&2; exit 77; }
OFF=$build/bin/sl-offload
[ -x "$OFF" ] || { echo "bench/fleet.sh: $OFF not built" >&2; exit 1; }
W=$(mktemp -d "${TMPDIR:-/tmp}/sl-fleet-bench.XXXXXX")
F=$W/fleet
cleanup() {
    [ -e "$F/.sl-fleet" ] && "$here/scripts/fleet.sh" stop "$F" 2>/dev/null
    jobs -p | xargs -r kill 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

"$build/bin/sl-preprocess" zoo tinycnn --input 3x32x32 -o "$W/m.h5" 2>/dev/null
"$build/bin/sl-data" synth --product casting --size 32 --per-class 8 --out "$W/data" 2>/dev/null
# link_images DIR N: N images (the synthetic ones, repeated) in DIR.
link_images() {
    /usr/bin/python3 - "$1" "$2" "$W"/data/*/*/*.png <<'PY'
import os, sys
d, n, src = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
os.makedirs(d, exist_ok=True)
for k in range(n):
    os.symlink(src[k % len(src)], os.path.join(d, "%06d.png" % k))
PY
}
link_images "$W/imgs" "$images"

# edge_metric I NAME: the value of metric NAME on edge I (its /metrics), 0 when absent.
edge_metric() {
    local v
    v=$(timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$(cat "$F/edge$1.mport") && printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3 && cat <&3" \
        | awk -v n="$2" '$1==n{print $2}')
    echo "${v:-0}"
}
# fleet_sum NAME: the sum of a counter over the fleet's edges.
fleet_sum() {
    local s=0
    for i in $(seq "$(cat "$F/n")"); do s=$((s + $(edge_metric "$i" "$1"))); done
    echo $s
}
rss_kb() { awk '/^VmRSS/{print $2}' "/proc/$(cat "$1")/status"; }

# wave E IMGDIR TAG: runs the devices against a fresh fleet of E edges; sets RPS, P95, ERRS, N.
wave() {
    local e=$1 dir=$2 tag=$3
    "$here/scripts/fleet.sh" start "$F" --edges "$e" --build "$build" --threads "$threads" \
        --bundle "$W/m.h5" >/dev/null
    RSS0=""
    for i in $(seq "$e"); do RSS0+="$(rss_kb "$F/edge$i.pid") "; done
    local front=127.0.0.1:$(cat "$F/port") pids=()
    for d in $(seq "$devices"); do
        "$OFF" device --edge "$front" --token-file "$F/token" --model "$W/m.h5" --images "$dir" \
            --pipeline "$pipeline" --threads 1 -o "$W/$tag.$d.jsonl" 2>"$W/$tag.$d.log" &
        pids+=($!)
    done
    # all started: each has a line; then the first to finish
    local give_up=$((SECONDS + 300))
    until [ "$(for d in $(seq "$devices"); do [ -s "$W/$tag.$d.jsonl" ] && echo; done | wc -l)" -ge "$devices" ]; do
        [ $SECONDS -lt $give_up ] || { tail -3 "$W/$tag.1.log" >&2; echo "devices did not start" >&2; exit 1; }
        sleep 0.05
    done
    local t0 r0 t1 r1
    t0=$(date +%s.%N); r0=$(fleet_sum sl_edge_results_total)
    until grep -qs summary "$W"/$tag.*.jsonl; do
        [ $SECONDS -lt $((give_up + 1800)) ] || { echo "no device finished" >&2; exit 1; }
        sleep 0.05
    done
    t1=$(date +%s.%N); r1=$(fleet_sum sl_edge_results_total)
    local rc=0
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
    RSS1=""
    for i in $(seq "$e"); do RSS1+="$(rss_kb "$F/edge$i.pid") "; done
    SHARE=""
    for i in $(seq "$e"); do
        SHARE+="$(edge_metric "$i" sl_edge_results_total) "
    done
    "$here/scripts/fleet.sh" stop "$F"
    read -r N ERRS P95 < <(cat "$W"/$tag.*.jsonl | /usr/bin/python3 -c '
import json, sys
t, err = [], 0
for l in sys.stdin:
    o = json.loads(l)
    if "index" in o:
        t.append(o["timing"]["total_s"]); err += o["via"] != "edge"
t.sort()
print(len(t), err, t[int(0.95 * (len(t) - 1))] if t else 0)')
    RPS=$(echo "$r0 $r1 $t0 $t1" | awk '{printf "%.1f", ($2 - $1) / ($4 - $3)}')
    [ $rc = 0 ] || ERRS="$ERRS (a device exited non-zero)"
}

echo "load before: $(uptime)" >&2
echo "| edges | devices | requests | errors | req/s | p95 ms | scaling efficiency | answers per edge |"
echo "|---|---|---|---|---|---|---|---|"
base="" rows=()
for e in $edges; do
    wave "$e" "$W/imgs" "e$e"
    [ -z "$base" ] && base=$RPS
    eff=$(echo "$RPS $base $e" | awk '{printf "%.2f", $1 / ($2 * $3)}')
    echo "| $e | $devices | $N | $ERRS | $RPS | $(echo "$P95" | awk '{printf "%.1f", 1000 * $1}') | $eff | ${SHARE% } |"
    rows+=("{\"edges\": $e, \"devices\": $devices, \"requests\": $N, \"errors\": \"$ERRS\", \"rps\": $RPS, \"p95_s\": $P95, \"efficiency\": $eff}")
done
emax=${edges##* }
per=$(( (long + devices - 1) / devices ))
link_images "$W/long" "$per"
wave "$emax" "$W/long" long
echo
echo "| long run | edges | devices | requests | errors | req/s | p95 ms | edge RSS start (MB) | edge RSS end (MB) |"
echo "|---|---|---|---|---|---|---|---|---|"
mb() { for k in $1; do echo "$k"; done | awk '{printf "%s%.0f", (NR > 1 ? " " : ""), $1 / 1024}'; }
echo "| | $emax | $devices | $N | $ERRS | $RPS | $(echo "$P95" | awk '{printf "%.1f", 1000 * $1}') | $(mb "$RSS0") | $(mb "$RSS1") |"
echo "load after: $(uptime)" >&2
if [ -n "$json" ]; then
    printf '{"waves": [%s], "long": {"edges": %s, "devices": %s, "requests": %s, "errors": "%s", "rps": %s, "p95_s": %s, "rss_start_kb": "%s", "rss_end_kb": "%s"}}\n' \
        "$(IFS=,; echo "${rows[*]}")" "$emax" "$devices" "$N" "$ERRS" "$RPS" "$P95" "${RSS0% }" "${RSS1% }" >"$json"
fi
