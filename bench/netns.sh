#!/usr/bin/env bash
# netns.sh: sl-offload over a real link: an edge in one network namespace, a slow IIoT device in
# another, joined by a veth pair whose two ends are capped with `tc tbf` (upload on the device's
# end, download on the edge's); the device's processes run under a CPU quota (cgroup v2 cpu.max,
# or cgroup v1 cpu.cfs_quota_us). The RTT is added with netem when the kernel has it, otherwise
# by the device's in-process shaper (--rtt). Measures local, edge-only, split and split+TL on the
# same images and prints a table (and --json FILE: one JSON document).
#
# usage: bench/netns.sh [--build DIR] [--dir OUT] [--bandwidth 10mbit] [--rtt 20ms] [--cpu PCT]
#                       [--limit N] [--json FILE]
#   --dir OUT   a pipeline output folder (base.h5, notl-device.h5, notl-edge.h5, device.h5,
#               edge.h5, data/test); default: a tiny tinycnn model made here
#   --cpu PCT   the device's CPU quota in percent of one core (default 50)
# Needs root; exits 77 (skipped) without it or when ip netns / tc / veth are unavailable.
# Everything it creates (namespaces, cgroup, temporary files) is removed on exit.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$src/build
dir=""
bw=10mbit
rtt=20ms
cpu=50
limit=20
json=""
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --bandwidth) bw=$2; shift 2 ;;
    --rtt) rtt=$2; shift 2 ;;
    --cpu) cpu=$2; shift 2 ;;
    --limit) limit=$2; shift 2 ;;
    --json) json=$2; shift 2 ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "netns.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done
skip() { echo "netns.sh: skipped: $*" >&2; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root"
command -v ip >/dev/null && command -v tc >/dev/null || skip "ip or tc not installed"
PY=${SL_PYTHON:-/usr/bin/python3}
bin=$(cd "$build/bin" && pwd)
OFF=$bin/sl-offload
[ -x "$OFF" ] || { echo "netns.sh: $OFF not built" >&2; exit 1; }

tag=sl$$
ns_edge=$tag-edge
ns_dev=$tag-dev
w=$(mktemp -d "${TMPDIR:-/tmp}/sl-netns.XXXXXX")
cg=""
edge_pid=""
cleanup() {
    [ -n "$edge_pid" ] && kill "$edge_pid" 2>/dev/null && wait "$edge_pid" 2>/dev/null
    ip netns del "$ns_edge" 2>/dev/null || true
    ip netns del "$ns_dev" 2>/dev/null || true
    [ -n "$cg" ] && rmdir "$cg" 2>/dev/null
    rm -rf "$w"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Fixtures: a pipeline folder, or a tiny model with its float and TL pairs.
if [ -n "$dir" ]; then
    base=$dir/base.h5 nd=$dir/notl-device.h5 ne=$dir/notl-edge.h5 td=$dir/device.h5 te=$dir/edge.h5
    images=$dir/data/test
else
    P=$bin/sl-preprocess
    "$P" zoo tinycnn --input 3x32x32 -o "$w/m.h5" >/dev/null 2>&1
    "$P" split "$w/m.h5" --at pool1 --device "$w/d.h5" --edge "$w/e.h5" >/dev/null 2>&1
    "$P" insert "$w/m.h5" --at pool2 --tl conv --r 4 --s 2 --bits 8 -o "$w/tl.h5" >/dev/null 2>&1
    "$P" split "$w/tl.h5" --device "$w/td.h5" --edge "$w/te.h5" >/dev/null 2>&1
    "$bin/sl-data" synth --product casting --size 32 --per-class 8 --out "$w/data" >/dev/null 2>&1
    base=$w/m.h5 nd=$w/d.h5 ne=$w/e.h5 td=$w/td.h5 te=$w/te.h5 images=$w/data
fi
mkdir -p "$w/images"
find "$images" -name '*.png' | sort | head -n "$limit" | while read -r f; do
    cp "$f" "$w/images/$(echo "${f#"$images"/}" | tr / _)"
done
n=$(ls "$w/images" | wc -l)
[ "$n" -gt 0 ] || { echo "netns.sh: no images in $images" >&2; exit 1; }

# The link.
ip netns add "$ns_edge" 2>/dev/null || skip "cannot create network namespaces"
ip netns add "$ns_dev"
ip link add "$tag-e" netns "$ns_edge" type veth peer name "$tag-d" netns "$ns_dev" \
    || skip "cannot create a veth pair"
ip -n "$ns_edge" addr add 10.79.0.1/24 dev "$tag-e"
ip -n "$ns_dev" addr add 10.79.0.2/24 dev "$tag-d"
for ns in "$ns_edge" "$ns_dev"; do ip -n "$ns" link set lo up; done
ip -n "$ns_edge" link set "$tag-e" up
ip -n "$ns_dev" link set "$tag-d" up
rtt_ms=$("$PY" -c "import sys,re; s=sys.argv[1]; v=float(re.match(r'[0-9.]+',s).group()); print(v*1000 if s.endswith('s') and not s.endswith('ms') else v)" "$rtt")
half=$("$PY" -c "print(${rtt_ms}/2)")
shaper_rtt=""
qdisc() { # qdisc NS DEV: netem delay (half the RTT) with tbf under it, or tbf alone
    if ip netns exec "$1" tc qdisc add dev "$2" root handle 1: netem delay "${half}ms" 2>/dev/null; then
        ip netns exec "$1" tc qdisc add dev "$2" parent 1: handle 2: tbf rate "$bw" burst 32kbit latency 400ms
    else
        ip netns exec "$1" tc qdisc add dev "$2" root tbf rate "$bw" burst 32kbit latency 400ms \
            || skip "tc tbf unavailable"
        shaper_rtt="--rtt $rtt"
    fi
}
qdisc "$ns_dev" "$tag-d"
qdisc "$ns_edge" "$tag-e"
rtt_how=$([ -n "$shaper_rtt" ] && echo "in-process shaper (no netem here)" || echo "netem")

# The slow device: a CPU quota for its processes.
period=100000
quota=$((period * cpu / 100))
if [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw cpu /sys/fs/cgroup/cgroup.controllers; then
    cg=/sys/fs/cgroup/$tag-device
    mkdir "$cg" && echo "$quota $period" >"$cg/cpu.max"
elif [ -d /sys/fs/cgroup/cpu ] && [ -w /sys/fs/cgroup/cpu ]; then
    cg=/sys/fs/cgroup/cpu/$tag-device
    mkdir "$cg" && echo "$period" >"$cg/cpu.cfs_period_us" && echo "$quota" >"$cg/cpu.cfs_quota_us"
else
    echo "netns.sh: no cgroup cpu controller: the device runs without a CPU quota" >&2
fi
on_device() { # runs a command in the device namespace, under the quota
    if [ -n "$cg" ]; then
        sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg" ip netns exec "$ns_dev" "$@"
    else
        ip netns exec "$ns_dev" "$@"
    fi
}

# The edge, serving the bundles from its store (copied in before it starts: deploying tens of MB
# through the capped link would only measure the upload).
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$w/token"
mkdir -p "$w/store"
cp "$ne" "$w/store/split-edge.h5"
cp "$te" "$w/store/tl-edge.h5"
cp "$base" "$w/store/model.h5"
ip netns exec "$ns_edge" "$OFF" edge --listen 10.79.0.1:7070 --store "$w/store" \
    --token-file "$w/token" --port-file "$w/port" 2>"$w/edge.log" &
edge_pid=$!
for _ in $(seq 100); do [ -s "$w/port" ] && break; sleep 0.1; done
[ -s "$w/port" ] || { cat "$w/edge.log" >&2; exit 1; }
E=10.79.0.1:7070

# local: the whole model under the device's quota (bench's local mode, no network involved).
on_device "$OFF" bench --model "$base" --images "$w/images" --json >"$w/local.json" 2>/dev/null
for mode in edge-only split split+tl; do
    case $mode in
    edge-only) model=$base ;;
    split) model=$nd ;;
    split+tl) model=$td ;;
    esac
    # shellcheck disable=SC2086
    on_device "$OFF" device --edge "$E" --token-file "$w/token" --model "$model" \
        --images "$w/images" $shaper_rtt -o "$w/$mode.jsonl" 2>"$w/$mode.log" \
        || { cat "$w/$mode.log" >&2; echo "netns.sh: $mode failed" >&2; exit 1; }
done

"$PY" - "$w" "$n" "$bw" "$rtt" "$cpu" "$rtt_how" "${json:-}" <<'PY'
import json, sys
w, n, bw, rtt, cpu, rtt_how, out = sys.argv[1:8]
local = [m for m in json.load(open(f"{w}/local.json"))["modes"] if m["mode"] == "local"][0]
rows = [{"mode": "local", "median_s": local["median_s"], "p95_s": local["p95_s"],
         "throughput_ips": local["throughput_ips"], "bytes_up_per_image": 0, "errors": 0}]
for mode in ("edge-only", "split", "split+tl"):
    s = json.loads(open(f"{w}/{mode}.jsonl").read().splitlines()[-1])["summary"]
    rows.append({"mode": mode, "median_s": s["median_s"], "p95_s": s["p95_s"],
                 "throughput_ips": s["throughput_ips"], "bytes_up_per_image": s["bytes_up_per_image"],
                 "errors": s["errors"]})
doc = {"format": "sl-netns-bench", "images": int(n), "bandwidth": bw, "rtt": rtt, "rtt_by": rtt_how,
       "device_cpu_percent": int(cpu), "modes": rows}
print(f"{n} images; veth + tc tbf {bw} each way; RTT {rtt} ({rtt_how}); device CPU quota {cpu}% of a core")
print("| mode | median ms | p95 ms | images/s | bytes up/image | speed-up vs local | errors |")
print("|---|---:|---:|---:|---:|---:|---:|")
for r in rows:
    print(f"| {r['mode']} | {r['median_s']*1e3:.1f} | {r['p95_s']*1e3:.1f} | {r['throughput_ips']:.1f} | "
          f"{r['bytes_up_per_image']:.0f} | {local['median_s']/r['median_s']:.2f}x | {r['errors']} |")
if out:
    json.dump(doc, open(out, "w"), indent=1)
PY
