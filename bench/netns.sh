#!/usr/bin/env bash
# netns.sh: sl-offload over a real link: an edge in one network namespace, a slow IIoT device in
# another, joined by a veth pair whose two ends are capped with `tc tbf` (upload on the device's
# end, download on the edge's; a bucket of one MTU, as a real bottleneck has); the device's
# commands run with --cpu PCT (common/cpuquota.h: dilated to CPU time / share by default). The
# RTT is added with netem when the kernel has it, otherwise by the device's in-process shaper
# (--rtt). TCP in the namespaces does not fall back to slow start after an idle gap, so each image
# is sent at the link's rate as the cost model assumes. Measures local (four times, spread over
# the run: the median of the four), edge-only, split and split+TL on the same images and prints
# a table (and --json FILE: one JSON document); with --plan, each mode's predicted latency and
# the error beside it.
#
# usage: bench/netns.sh [--build DIR] [--dir OUT] [--bandwidth 10mbit] [--rtt 20ms] [--cpu PCT]
#                       [--limit N] [--plan plan.json] [--pipeline N] [--json FILE]
#   --dir OUT   a pipeline output folder (base.h5, notl-device.h5, notl-edge.h5, device.h5,
#               edge.h5, data/test); default: a tiny tinycnn model made here
#   --cpu PCT   the device's share of one core in percent (default 50)
#   --plan F    the plan (select -o) whose predictions are shown beside the measurements
#   --pipeline N  the remote modes keep N requests in flight (default 1)
# Needs root; probes once what the machine can do (a namespace, a veth pair, a tbf qdisc) and
# exits 77 (skipped) only when it cannot; a later setup failure is an error (exit 1), and with
# SL_REQUIRE_NETNS=1 a skip is a failure too.
# Everything it creates (namespaces, temporary files) is removed on exit; the commands remove
# their cgroups themselves.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$src/build
dir=""
bw=10mbit
rtt=20ms
cpu=50
limit=20
json=""
plan=""
pipeline=1
source "$src/bench/lib.sh"
bench_options 24 --build=build --dir=dir --bandwidth=bw --rtt=rtt --cpu=cpu --limit=limit \
    --json=json --plan=plan --pipeline=pipeline -- "$@"
skip() {
    [ "${SL_REQUIRE_NETNS:-0}" = 1 ] && { echo "netns.sh: SL_REQUIRE_NETNS=1, but $*" >&2; exit 1; }
    echo "netns.sh: skipped: $*" >&2
    exit 77
}
die() { echo "netns.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || skip "needs root"
command -v ip >/dev/null && command -v tc >/dev/null || skip "ip or tc not installed"
probe=sl$$-probe
if ! { ip netns add "$probe" && ip -n "$probe" link add pa type veth peer name pb &&
    ip netns exec "$probe" tc qdisc add dev pa root tbf rate 1mbit burst 32kbit latency 400ms
} >/dev/null 2>&1; then
    ip netns del "$probe" 2>/dev/null || true
    skip "this machine cannot make a network namespace, a veth pair and a tbf qdisc"
fi
ip netns del "$probe"
PY=${SL_PYTHON:-/usr/bin/python3}
bin=$(cd "$build/bin" && pwd)
OFF=$bin/sl-offload
[ -x "$OFF" ] || { echo "netns.sh: $OFF not built" >&2; exit 1; }

tag=sl$$
ns_edge=$tag-edge
ns_dev=$tag-dev
w=$(mktemp -d "${TMPDIR:-/tmp}/sl-netns.XXXXXX")
edge_pid=""
cleanup() {
    [ -n "$edge_pid" ] && kill "$edge_pid" 2>/dev/null && wait "$edge_pid" 2>/dev/null
    [ -n "${edge_cg:-}" ] && rmdir "$edge_cg" 2>/dev/null
    ip netns del "$ns_edge" 2>/dev/null || true
    ip netns del "$ns_dev" 2>/dev/null || true
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
# sed, not head: head leaves as soon as it has its lines, and under pipefail the SIGPIPE that sort
# then gets ended this script without a word (one row of bench/predictions.sh was lost so).
find "$images" -name '*.png' | sort | sed -n "1,${limit}p" | while read -r f; do
    cp "$f" "$w/images/$(echo "${f#"$images"/}" | tr / _)"
done
n=$(ls "$w/images" | wc -l)
[ "$n" -gt 0 ] || { echo "netns.sh: no images in $images" >&2; exit 1; }

# The link.
ip netns add "$ns_edge" || die "cannot create network namespace $ns_edge"
ip netns add "$ns_dev" || die "cannot create network namespace $ns_dev"
ip link add "$tag-e" netns "$ns_edge" type veth peer name "$tag-d" netns "$ns_dev" \
    || die "cannot create the veth pair $tag-e / $tag-d"
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
        ip netns exec "$1" tc qdisc add dev "$2" parent 1: handle 2: tbf rate "$bw" burst 1600 latency 400ms
    else
        ip netns exec "$1" tc qdisc add dev "$2" root tbf rate "$bw" burst 1600 latency 400ms \
            || die "cannot add a tbf qdisc on $2"
        shaper_rtt="--rtt $rtt"
    fi
}
qdisc "$ns_dev" "$tag-d"
qdisc "$ns_edge" "$tag-e"
rtt_how=$([ -n "$shaper_rtt" ] && echo "in-process shaper (no netem here)" || echo "netem")

for ns in "$ns_edge" "$ns_dev"; do
    ip netns exec "$ns" sysctl -qw net.ipv4.tcp_slow_start_after_idle=0
done

# The slow device: its commands take --cpu (dilation; or a cgroup quota they set up and remove
# themselves with --cpu-mode quota).
# nsenter joins only the network namespace: `ip netns exec` would remount /sys and hide the
# cgroup hierarchy from them.
on_device() { nsenter --net="/run/netns/$ns_dev" "$@"; }
planopt=()
[ -n "$plan" ] && planopt=(--plan "$plan")

# The edge, serving the bundles from its store (copied in before it starts: deploying tens of MB
# through the capped link would only measure the upload).
(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$w/token")
mkdir -p "$w/store"
cp "$ne" "$w/store/split-edge.h5"
cp "$te" "$w/store/tl-edge.h5"
cp "$base" "$w/store/model.h5"
# The edge is a machine of its own too: on a shared host it gets one whole core with the highest
# CPU weight (as `profile --cpu 100` measures it), so other work does not slow it below its
# profile. `sl-offload edge` has no --cpu, so this one group is made here.
edge_cg=""
for d in /sys/fs/cgroup/cpu /sys/fs/cgroup/cpu,cpuacct; do
    if [ -w "$d/cgroup.procs" ] && mkdir "$d/$tag-edge" 2>/dev/null; then
        edge_cg=$d/$tag-edge
        echo 4000 >"$edge_cg/cpu.cfs_period_us" && echo 4000 >"$edge_cg/cpu.cfs_quota_us" &&
            echo 262144 >"$edge_cg/cpu.shares"
        break
    fi
done
# One intra-op thread, as `profile --threads 1` measured it (two threads in one core's quota
# only take turns).
OMP_NUM_THREADS=1 sh -c '[ -z "$0" ] || echo $$ >"$0/cgroup.procs"; exec "$@"' "$edge_cg" \
    nsenter --net="/run/netns/$ns_edge" "$OFF" edge --listen 10.79.0.1:7070 --store "$w/store" \
    --threads 1 --token-file "$w/token" --port-file "$w/port" 2>"$w/edge.log" &
edge_pid=$!
for _ in $(seq 100); do [ -s "$w/port" ] && break; sleep 0.1; done
[ -s "$w/port" ] || { cat "$w/edge.log" >&2; exit 1; }
E=10.79.0.1:7070

# The link as the device measures it (sl-offload probe), beside what tc was told.
probe=$(on_device "$OFF" probe --edge "$E" --token-file "$w/token" --flags 2>"$w/probe.log") \
    || { cat "$w/probe.log" >&2; die "probe failed"; }
echo "probe: $probe (tbf rate $bw, RTT $rtt)"

# local: the whole model on the slow device (bench's local mode, no network involved), run
# before each remote mode and after the last, so that its images spread over the whole run as
# the remote modes' do: one short process alone caught the host's slower spells (a bench of 48
# images of mobilenet_v2 at 25 % read 23.5-31.5 ms from one process to the next, minutes apart
# on a quiet machine; docs/benchmarks.md, Predictions); the table gives the median of the runs.
local_run() { # local_run K
    on_device "$OFF" bench --model "$base" --images "$w/images" --threads 1 --cpu "$cpu" \
        --local-only "${planopt[@]}" --json >"$w/local-$1.json" 2>"$w/local-$1.log" \
        || { cat "$w/local-$1.log" >&2; die "local failed"; }
}
k=0
for mode in edge-only split split+tl; do
    local_run $((k += 1))
    case $mode in
    edge-only) model=$base ;;
    split) model=$nd ;;
    split+tl) model=$td ;;
    esac
    # shellcheck disable=SC2086
    on_device "$OFF" device --edge "$E" --token-file "$w/token" --model "$model" \
        --images "$w/images" --threads 1 --cpu "$cpu" --pipeline "$pipeline" "${planopt[@]}" \
        $shaper_rtt -o "$w/$mode.jsonl" 2>"$w/$mode.log" \
        || { cat "$w/$mode.log" >&2; echo "netns.sh: $mode failed" >&2; exit 1; }
done
local_run $((k += 1))

"$PY" - "$w" "$n" "$bw" "$rtt" "$cpu" "$rtt_how" "$pipeline" "${plan:-}" "${json:-}" <<'PY'
import json, sys
w, n, bw, rtt, cpu, rtt_how, pipeline, plan, out = sys.argv[1:10]
def med(v):
    v = sorted(v)
    return v[len(v) // 2] if v else 0
def middle(v): # the median; of an even count, the mean of the two middle values
    v = sorted(v)
    return (v[(len(v) - 1) // 2] + v[len(v) // 2]) / 2
runs = [[m for m in json.load(open(f"{w}/local-{k}.json"))["modes"] if m["mode"] == "local"][0]
        for k in range(1, 5)]
local = {"median_s": middle([r["median_s"] for r in runs]), "p95_s": middle([r["p95_s"] for r in runs]),
         "throughput_ips": middle([r["throughput_ips"] for r in runs]),
         "predicted_s": runs[0]["predicted_s"]}
rows = [{"mode": "local", "median_s": local["median_s"], "p95_s": local["p95_s"],
         "throughput_ips": local["throughput_ips"], "bytes_up_per_image": 0, "errors": 0,
         "predicted_s": local["predicted_s"] if local["predicted_s"] >= 0 else None,
         "runs_median_s": [r["median_s"] for r in runs]}]
for mode in ("edge-only", "split", "split+tl"):
    lines = [json.loads(l) for l in open(f"{w}/{mode}.jsonl").read().splitlines()]
    s = lines[-1]["summary"]
    parts = {k: med([l["timing"][k] for l in lines[:-1] if "timing" in l])
             for k in ("device_s", "encode_s", "transfer_s", "edge_queue_s", "edge_s")}
    # The steady rate: images answered per second between the first answer and the last, so
    # the connection's set-up, TCP's slow start and the first image's compute are left out.
    done = sorted(l["start_unix_s"] + l["timing"]["total_s"] for l in lines[:-1] if "timing" in l)
    steady = (len(done) - 1) / (done[-1] - done[0]) if len(done) > 2 and done[-1] > done[0] else None
    rows.append({"mode": mode, "median_s": s["median_s"], "p95_s": s["p95_s"],
                 "throughput_ips": s["throughput_ips"], "steady_ips": steady,
                 "bytes_up_per_image": s["bytes_up_per_image"],
                 "errors": s["errors"], "predicted_s": s.get("predicted_s"),
                 "predicted_bytes": s.get("predicted_bytes"), "median_parts": parts})
for r in rows:
    p = r.get("predicted_s")
    r["error"] = (p - r["median_s"]) / r["median_s"] if p is not None and r["median_s"] > 0 else None
fastest = min(rows, key=lambda r: r["median_s"])
choice = None
if plan:
    best = json.load(open(plan))["best"]
    kind = best["cut"]["kind"]
    choice = {"local-only": "local", "edge-only": "edge-only"}.get(
        kind, "split+tl" if best["tl"] else "split")
doc = {"format": "sl-netns-bench", "images": int(n), "bandwidth": bw, "rtt": rtt, "rtt_by": rtt_how,
       "device_cpu_percent": float(cpu), "pipeline": int(pipeline), "modes": rows,
       "measured_fastest": fastest["mode"], "plan_choice": choice}
print(f"{n} images; veth + tc tbf {bw} each way; RTT {rtt} ({rtt_how}); device {cpu}% of a core"
      f"; {pipeline} request(s) in flight")
print("| mode | median ms | predicted ms | error | p95 ms | images/s | bytes up/image | speed-up vs local | errors |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    p, e = r.get("predicted_s"), r["error"]
    ps = f"{p*1e3:.1f}" if p is not None else "-"
    es = f"{100*e:+.1f}%" + (" !" if abs(e) > 0.10 else "") if e is not None else "-"
    print(f"| {r['mode']} | {r['median_s']*1e3:.1f} | {ps} | {es} | {r['p95_s']*1e3:.1f} | "
          f"{r['throughput_ips']:.1f} | {r['bytes_up_per_image']:.0f} | "
          f"{local['median_s']/r['median_s']:.2f}x | {r['errors']} |")
print("  local: the median of 4 runs spread over the bench: "
      + ", ".join(f"{v*1e3:.1f}" for v in rows[0]["runs_median_s"]) + " ms")
for r in rows[1:]:
    p = r["median_parts"]
    print(f"  {r['mode']}: median device {p['device_s']*1e3:.1f} ms, encode {p['encode_s']*1e3:.1f}, "
          f"transfer {p['transfer_s']*1e3:.1f}, edge queue {p['edge_queue_s']*1e3:.1f}, "
          f"edge {p['edge_s']*1e3:.1f}; predicted bytes {r.get('predicted_bytes') or 0:.0f}")
# Pipelined (--pipeline N > 1): with N requests in flight the stages overlap, so the plan
# predicts images/s = 1 / max(device stage, upload, edge stage), unless N is too few to cover the
# round trip: a closed loop of N requests, each taking the plan's latency L, moves at most N / L
# images/s (Little's law). The prediction is the smaller of the two.
# The device stage is load + head + TL encode + codec + framing, the edge stage codec + TL decode
# + tail. Measured: the steady rate (first answer to last), which is what 1/max(stage) predicts;
# the whole run's rate (set-up and slow start included) is beside it. Goodput: the payload bits
# per second the upload carried at the steady rate, against the tbf rate.
def rate_bits(v):
    v = v.lower()
    for suf, mul in (("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3), ("bit", 1)):
        if v.endswith(suf):
            return float(v[: -len(suf)]) * mul
    return float(v)
if plan and int(pipeline) > 1:
    pd = json.load(open(plan))
    entry = {"edge-only": ([c["without_tl"] for c in pd["per_cut"]
                            if c["without_tl"]["cut"]["kind"] == "edge-only"] or [None])[0],
             "split": pd.get("best_split_without_tl"), "split+tl": pd.get("best_with_tl")}
    print(f"pipelined, {pipeline} in flight: predicted images/s = min(1/max(device, upload, edge), {pipeline}/latency)")
    print("| mode | stages device / upload / edge ms | predicted images/s | measured (steady) | error | whole run | upload goodput / link |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows[1:]:
        e = entry.get(r["mode"])
        if not e:
            continue
        L = e["latency_s"]
        st = (L["load"] + L["device"] + L["tl_encode"] + L["wire_encode"] + L["serialise"],
              L["transfer"], L["wire_decode"] + L["tl_decode"] + L["edge"])
        pred = min(1 / max(st), int(pipeline) / L["total"])
        meas = r["steady_ips"] or r["throughput_ips"]
        good = meas * r["bytes_up_per_image"] * 8 / rate_bits(bw)
        r["pipelined"] = {"stages_s": st, "predicted_ips": pred, "measured_ips": meas,
                          "error": (pred - meas) / meas if meas > 0 else None,
                          "goodput_share": good,
                          "bottleneck": ("device", "upload", "edge")[st.index(max(st))]
                          if 1 / max(st) <= int(pipeline) / L["total"] else "requests in flight"}
        err = r["pipelined"]["error"]
        es = f"{100*err:+.1f}%" + (" !" if abs(err) > 0.10 else "") if err is not None else "-"
        print(f"| {r['mode']} | {st[0]*1e3:.1f} / {st[1]*1e3:.1f} / {st[2]*1e3:.1f} "
              f"({r['pipelined']['bottleneck']}) | {pred:.1f} | {meas:.1f} | {es} | "
              f"{r['throughput_ips']:.1f} | {100*good:.0f}% |")
if any(r["error"] is not None and abs(r["error"]) > 0.10 for r in rows):
    print("! the prediction misses the measurement by more than 10%")
if choice:
    c = [r for r in rows if r["mode"] == choice][0]
    verdict = ("the measured fastest" if choice == fastest["mode"] else
               "within 5% of the measured fastest" if c["median_s"] <= 1.05 * fastest["median_s"]
               else "NOT the measured fastest")
    print(f"plan's choice: {choice}: {verdict} (fastest: {fastest['mode']} "
          f"{fastest['median_s']*1e3:.1f} ms)")
if out:
    json.dump(doc, open(out, "w"), indent=1)
PY
