#!/usr/bin/env bash
# predictions.sh: does the plan's prediction match what the offloader measures? For one model, a
# device CPU share and a link: profiles the device (under --cpu, on sample images of the casting
# line) and the edge, runs select, inserts the plan's best TL at its cut, splits with and without
# it, and measures all four modes over a real link (bench/netns.sh: veth + tbf in network
# namespaces) with the plan's predictions beside the measurements.
#
# usage: bench/predictions.sh [--build DIR] [--arch resnet18] [--size 224] [--cpu 25]
#                             [--bandwidth 10mbit] [--rtt 20ms] [--limit 20] [--pipeline 1]
#                             [--per-class 40] [--work DIR] [--json FILE]
#   --per-class N  sample images per class of the synthetic line (the test split, about 15%,
#               is what the modes run: raise it for the pipelined figures)
#   --work DIR  keep models, profiles and plans there (reused: profiles are made once per model,
#               size and CPU share, so several links cost one profile)
# Needs root (network namespaces); exits 77 when netns.sh cannot run here.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$src/build
arch=resnet18 size=224 cpu=25 bw=10mbit rtt=20ms limit=20 pipeline=1 work="" json="" per_class=40
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$2; shift 2 ;;
    --arch) arch=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --cpu) cpu=$2; shift 2 ;;
    --bandwidth) bw=$2; shift 2 ;;
    --rtt) rtt=$2; shift 2 ;;
    --limit) limit=$2; shift 2 ;;
    --pipeline) pipeline=$2; shift 2 ;;
    --per-class) per_class=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --json) json=$2; shift 2 ;;
    -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "predictions.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done
bin=$(cd "$build/bin" && pwd)
P=$bin/sl-preprocess
[ -n "$work" ] || work=$(mktemp -d "${TMPDIR:-/tmp}/sl-pred.XXXXXX")
mkdir -p "$work"
w=$(cd "$work" && pwd)
m=$w/$arch-$size
mkdir -p "$m"

# The model (untrained weights are fine for latency) and sample images of the product line.
[ -s "$m/base.h5" ] || "$P" zoo "$arch" --input "3x${size}x${size}" --classes 4 -o "$m/base.h5" >/dev/null
[ -d "$w/data-$size-n$per_class" ] || nice "$bin/sl-data" synth --product casting --size "$size" \
    --per-class "$per_class" --out "$w/data-$size-n$per_class" >/dev/null
mkdir -p "$m/data"
rm -rf "$m/data/test" && cp -r "$w/data-$size-n$per_class/test" "$m/data/test"

# Profiles: the device at its share (--cpu); the edge as netns.sh runs it, one core with the highest
# weight (so a loaded shared host does not make it look slower than it will be).
prof=(--images "$w/data-$size-n$per_class/train" --max-images 4 --warmup 1 --repeats 5 --tl conv-r4-s2-b8)
[ -s "$m/device-cpu$cpu.json" ] ||
    "$P" profile "$m/base.h5" --threads 1 --cpu "$cpu" "${prof[@]}" -o "$m/device-cpu$cpu.json"
[ -s "$m/edge.json" ] || "$P" profile "$m/base.h5" --threads 1 --cpu 100 "${prof[@]}" -o "$m/edge.json"

# The plan for this link, and the pairs at its cut.
tag=cpu$cpu-$bw-$rtt
# tbf counts Ethernet, IP and TCP headers (66 bytes per 1448-byte segment); select's bandwidth
# is the rate the application's bytes get through.
goodput=$("${SL_PYTHON:-/usr/bin/python3}" -c '
import re, sys
v, u = re.fullmatch(r"([0-9.]+)([kmg]?)bit", sys.argv[1].lower()).groups()
print(int(float(v) * {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[u] * 1448 / 1514))' "$bw")
"$P" select --device "$m/device-cpu$cpu.json" --edge "$m/edge.json" --bandwidth "$goodput" \
    --rtt "$rtt" -o "$m/plan-$tag.json" >"$m/select-$tag.txt"
read -r cut cfg nocut < <("${SL_PYTHON:-/usr/bin/python3}" -c '
import json, sys
d = json.load(open(sys.argv[1]))
t = d["best_with_tl"]; s = d["best_split_without_tl"]
print(t["cut"]["tensor"], t["tl"], s["cut"]["tensor"])' "$m/plan-$tag.json")
r=$(echo "$cfg" | sed -n 's/conv-r\([0-9]*\)-s.*/\1/p')
s=$(echo "$cfg" | sed -n 's/conv-r[0-9]*-s\([0-9]*\)-b.*/\1/p')
b=$(echo "$cfg" | sed -n 's/.*-b\([0-9]*\)$/\1/p')
"$P" insert "$m/base.h5" --at "$cut" --tl conv --r "$r" --s "$s" --bits "$b" -o "$m/tl.h5" >/dev/null
"$P" split "$m/tl.h5" --device "$m/device.h5" --edge "$m/edge.h5" >/dev/null
"$P" split "$m/base.h5" --at "$nocut" --device "$m/notl-device.h5" --edge "$m/notl-edge.h5" >/dev/null
echo "== $arch ${size}px, device ${cpu}% of a core, $bw $rtt: TL $cfg at $cut, split without TL at $nocut"
head -4 "$m/select-$tag.txt"
echo "load: $(uptime)"
jopt=()
[ -n "$json" ] && jopt=(--json "$json")
"$src/bench/netns.sh" --build "$build" --dir "$m" --bandwidth "$bw" --rtt "$rtt" --cpu "$cpu" \
    --limit "$limit" --pipeline "$pipeline" --plan "$m/plan-$tag.json" "${jopt[@]}"
