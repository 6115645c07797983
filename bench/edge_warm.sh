#!/usr/bin/env bash
# edge_warm.sh: what the first request to a freshly started edge costs, against the requests
# after it. An edge serving one edge half is started, a device sends IMAGES images one at a time,
# and each image's edge run time (the RESULT frame's run field: the backend's run, without the
# queue or the network) is read from the device's result lines; then, after IDLE seconds without
# a request, a second device sends one image ("after idle": what an idle edge's next request
# costs on this machine, beside which the first request is to be read). Variants, interleaved round by
# round so that each sees the same machine load:
#   warm     `sl-offload edge` as built: each model runs once on zeros before the edge listens
#   no-warm  the same with --no-warm: the first request pays the model's first run
#   before   another sl-offload binary (--before BIN, e.g. one built from an older commit)
#
#   bench/edge_warm.sh [--build DIR] [--before BIN] [--rounds N] [--images N]
#                      [--arch NAME] [--input CxHxW] [--at NODE] [--idle SECONDS]
#
# Defaults: build-edge (a configured and built folder), 3 rounds, 12 images, mobilenet_v2 at
# 3x224x224 split at features.3, 3 s idle. Prints, per round and variant, the time from the
# edge's start to its port file (listening), the first image's edge run time, the median of the
# others and the one after idle, then per variant the medians over the rounds; everything under
# nice -n 10 (the machine is shared).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$src/build-edge before="" rounds=3 images=12 arch=mobilenet_v2 input=3x224x224 at=features.3
idle=3
source "$src/bench/lib.sh"
bench_options 21 --build=build --before=before --rounds=rounds --images=images --arch=arch \
    --input=input --at=at --idle=idle -- "$@"
B=$(cd "$build" && pwd)/bin
OFF=$B/sl-offload
[ -x "$OFF" ] || { echo "edge_warm.sh: $OFF is not built" >&2; exit 2; }
[ -z "$before" ] || [ -x "$before" ] || { echo "edge_warm.sh: no program '$before'" >&2; exit 2; }
W=$(mktemp -d "${TMPDIR:-/tmp}/sl-edge-warm.XXXXXX")
pid=""
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null; rm -rf "$W"' EXIT
nice -n 10 "$B/sl-preprocess" zoo "$arch" --input "$input" --classes 3 -o "$W/m.h5" 2>/dev/null
nice -n 10 "$B/sl-preprocess" split "$W/m.h5" --at "$at" --device "$W/d.h5" --edge "$W/e.h5" \
    >/dev/null 2>&1
mkdir -p "$W/store"
cp "$W/e.h5" "$W/store/"
size=${input##*x}
per=$(((images + 2) / 3))
nice -n 10 "$B/sl-data" synth --product casting --size "$size" --per-class "$per" \
    --out "$W/data" 2>/dev/null
mkdir -p "$W/img"
find "$W/data" -name '*.png' | sort | sed -n "1,${images}p" | while read -r f; do cp "$f" "$W/img/"; done
(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$W/token")

device_failed() {
    cat "$W/dev.log" >&2
    echo "edge_warm.sh: the device failed; the edge's log:" >&2
    cat "$W/$v.log" >&2
    exit 1
}

# one VARIANT PROGRAM [OPTION]: an edge started, the images sent, one more after idle, the edge
# stopped; appends "listen_s first_s rest_median_s idle_s" to $W/VARIANT.
one() {
    local v=$1 prog=$2
    shift 2
    rm -f "$W/port"
    local t0 t1
    t0=$(date +%s%N)
    nice -n 10 "$prog" edge --listen 127.0.0.1:0 --port-file "$W/port" --store "$W/store" \
        --token-file "$W/token" "$@" 2>"$W/$v.log" &
    pid=$!
    for _ in $(seq 6000); do [ -s "$W/port" ] && break; sleep 0.05; done
    [ -s "$W/port" ] || { cat "$W/$v.log" >&2; echo "edge_warm.sh: edge did not start" >&2; exit 1; }
    t1=$(date +%s%N)
    nice -n 10 "$OFF" device --edge "127.0.0.1:$(cat "$W/port")" --token-file "$W/token" \
        --model "$W/d.h5" --images "$W/img" -o "$W/out.jsonl" 2>"$W/dev.log" || device_failed
    sleep "$idle"
    nice -n 10 "$OFF" device --edge "127.0.0.1:$(cat "$W/port")" --token-file "$W/token" \
        --model "$W/d.h5" --images "$(find "$W/img" -name '*.png' | sort | head -1)" \
        -o "$W/idle.jsonl" 2>"$W/dev.log" || device_failed
    kill "$pid"
    wait "$pid" || true
    pid=""
    /usr/bin/python3 - "$W/out.jsonl" "$W/idle.jsonl" "$(((t1 - t0) / 1000000))" >>"$W/$v" <<'PY'
import json, statistics, sys
def edge_s(path):
    rows = [json.loads(l) for l in open(path)][:-1]
    assert rows and all(r["via"] == "edge" for r in rows), rows
    return [r["timing"]["edge_s"] for r in rows]
e, i = edge_s(sys.argv[1]), edge_s(sys.argv[2])
print(int(sys.argv[3]) / 1000, e[0], statistics.median(e[1:]), i[0])
PY
    printf '%-8s listen %6.2f s  first %7.1f ms  others (median) %7.1f ms  after idle %7.1f ms\n' \
        "$v" $(tail -1 "$W/$v" | awk '{print $1, $2 * 1000, $3 * 1000, $4 * 1000}')
    sed -n 's/^sl-offload: edge: \(serving .*\)/         \1/p' "$W/$v.log"
}
echo "$arch $input split at $at, $images images, $rounds round(s); $(uptime)"
for r in $(seq "$rounds"); do
    echo "round $r"
    one warm "$OFF"
    one no-warm "$OFF" --no-warm
    [ -z "$before" ] || one before "$before"
done
echo "medians over the rounds; $(uptime)"
for v in warm no-warm before; do
    [ -s "$W/$v" ] || continue
    /usr/bin/python3 - "$W/$v" "$v" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1])]
m = [statistics.median(c) for c in zip(*rows)]
print(f"{sys.argv[2]:8} listen {m[0]:6.2f} s  first {m[1]*1000:7.1f} ms  others {m[2]*1000:7.1f} ms"
      f"  after idle {m[3]*1000:7.1f} ms  first/others {m[1]/m[2]:5.2f}")
PY
done
