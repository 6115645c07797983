#!/usr/bin/env bash
# trace.sh: the adaptive device (`sl-offload device --plans`) against each fixed plan of its plan
# table over a bandwidth trace on real links (issue 16). All the runs go side by side, at the same
# time: the adaptive one and one per plan of the table held fixed (a one-plan table: the same code
# path, never switching), each a device and its own edge in two network namespaces joined by a
# veth pair, tc tbf on both ends under netem for the RTT (bench/netns_link.sh). The rates of all
# the links follow the trace together (`tc qdisc change`, default 30 s each at 20, 5, 1 and
# 10 Mbit/s) while each device classifies an image every --every (a camera's rate). So every run
# sees the same link and the same machine load at the same moment, which runs one after another
# on a shared machine do not. Per segment: mean and p95 latency of each run (the adaptive one
# also after its last switch in the segment), and the switch delay in images and seconds from
# the rate change. The devices run at --cpu PCT, as profiled, dilated asleep (dilate-idle): side
# by side, devices that waited busy would take the cores from the edges.
#
# usage: bench/trace.sh [--build DIR] [--plans plans.json] [--rates 20mbit,5mbit,1mbit,10mbit]
#                       [--segment 30] [--rtt 20ms] [--every 50ms] [--cpu 10] [--json FILE]
#                       [--arch tinycnn --input 3x96x96] [--tl pool,conv-r4-s2-b8] [--keep DIR]
#                       [-- DEVICE-OPTIONS...]
#   --plans M   a manifest (make -f pipeline.mk plans ...) and its images with --images DIR;
#               default: a line made here (--arch at --input with random weights — latency
#               only — profiled as a device at --cpu PCT and an edge of one thread with the --tl
#               candidates, the table selected over the trace's rates, TLs inserted without
#               fine-tuning)
#   --images D  the images (default: synthetic casting images at the model's size)
#   --keep DIR  copy each run's JSON lines and log and the segment times there
#   after --     more options for the adaptive device (--switch-hold 4s, --stale 2s...)
# Needs root and network namespaces (exits 77 otherwise, 1 with SL_REQUIRE_NETNS=1).
# Takes segments x --segment seconds (2 min for the defaults) plus the line's making.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$src/build
plans=""
images=""
rates=20mbit,5mbit,1mbit,10mbit
seg=30
rtt=20ms
every=50ms
cpu=10
arch=tinycnn
input=3x96x96
tls=pool,conv-r4-s2-b8
json=""
keep=""
source "$src/bench/lib.sh"
bench_options 27 --build=build --plans=plans --images=images --rates=rates --segment=seg \
    --rtt=rtt --every=every --cpu=cpu --arch=arch --input=input --tl=tls --json=json --keep=keep \
    -- "$@"
devopts=("${bench_rest[@]}")
PY=${SL_PYTHON:-/usr/bin/python3}
bin=$(cd "$build/bin" && pwd)
OFF=$bin/sl-offload P=$bin/sl-preprocess
NL_TAG=sl$$p
source "$src/bench/netns_link.sh"
nl_probe
w=$(mktemp -d "${TMPDIR:-/tmp}/sl-trace.XXXXXX")
tags=() edge_pids=()
cleanup() {
    local p t
    for p in "${edge_pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    for t in "${tags[@]}"; do NL_TAG=$t nl_cleanup; done
    rm -rf "$w"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ms() { "$PY" -c "import re,sys; s=sys.argv[1]; v=float(re.match(r'[0-9.]+',s).group()); print(v if s.endswith('ms') else v*1000)" "$1"; }
rtt_ms=$(ms "$rtt")
every_s=$("$PY" -c "print($(ms "$every")/1000)")

n_seg=$(echo "$rates" | tr ',' '\n' | wc -l)
n_img=$("$PY" -c "print(int($n_seg * $seg / $every_s) + 1)")
if [ -z "$images" ]; then
    [ -z "$plans" ] || { echo "trace.sh: --plans needs --images" >&2; exit 2; }
    per=$(( n_img < 200 ? (n_img + 3) / 4 : 50 ))
    "$bin/sl-data" synth --product casting --size "${input##*x}" --per-class "$per" --out "$w/data" >/dev/null 2>&1
    images=$w/data
fi
if [ -z "$plans" ]; then
    mkdir -p "$w/plans"
    "$P" zoo "$arch" --input "$input" --classes 4 -o "$w/plans/model.h5" >/dev/null 2>&1
    # wire sizes on images of the line: random input compresses far worse
    "$P" profile "$w/plans/model.h5" --threads 1 --cpu "$cpu" --tl "$tls" --images "$images" \
        --max-images 4 --warmup 1 --repeats 3 -o "$w/dev.json" 2>"$w/profile.log" ||
        { cat "$w/profile.log"; exit 1; }
    "$P" profile "$w/plans/model.h5" --threads 1 --tl "$tls" --images "$images" --max-images 4 \
        --warmup 1 --repeats 3 -o "$w/edge.json" 2>>"$w/profile.log" || { cat "$w/profile.log"; exit 1; }
    "$P" select --device "$w/dev.json" --edge "$w/edge.json" --rtt "$rtt" --bandwidths "$rates" \
        -q -o "$w/plans/table.json"
    "$OFF" plans "$w/plans/table.json" --cuts 8 --manifest "$w/plans/plans.json" >"$w/plans.txt"
    while IFS=$'\t' read -r id kind _ tensor tl; do
        p=$w/plans/plan$id
        [ "$kind" = slice ] || continue
        if [ "$tl" = - ]; then
            "$P" split "$w/plans/model.h5" --at "$tensor" --device "$p-device.h5" --edge "$p-edge.h5" >/dev/null
        else
            "$P" insert "$w/plans/model.h5" --at "$tensor" --tl "$tl" -o "$p-tl.h5" >/dev/null 2>&1
            "$P" split "$p-tl.h5" --device "$p-device.h5" --edge "$p-edge.h5" >/dev/null
        fi
    done <"$w/plans.txt"
    plans=$w/plans/plans.json
fi

# One-plan manifests: each plan held fixed.
"$PY" - "$plans" "$w" <<'PY'
import json, os, sys
man, w = sys.argv[1], sys.argv[2]
m = json.load(open(man))
d = os.path.dirname(os.path.abspath(man))
t = json.load(open(os.path.join(d, m["table"])))
for e in m["pairs"]:
    k = e["plan"]
    one = dict(t, plans=[t["plans"][k]], links=[], intervals=[])
    json.dump(one, open(f"{w}/table{k}.json", "w"))
    ab = lambda f: None if f is None else os.path.join(d, f)
    json.dump({"format": "sl-plan-bundles", "version": 1, "table": f"table{k}.json",
               "pairs": [{"plan": 0, "device": ab(e["device"]), "edge": ab(e["edge"])}]},
              open(f"{w}/fixed{k}.json", "w"))
print(len(m["pairs"]), file=open(f"{w}/nplans", "w"))
PY
n_plans=$(cat "$w/nplans")

# One link and one edge per run, each edge serving the edge files of the manifest. A run's
# namespaces are sl<pid><k>-edge/-dev; NL_EDGE/NL_DEV are set per tag when sourced.
first=$(echo "$rates" | cut -d, -f1)
names=(adaptive)
for k in $(seq 0 $((n_plans - 1))); do names+=("fixed$k"); done
mkdir -p "$w/store"
"$PY" - "$plans" "$w/store" <<'PY'
import json, os, shutil, sys
man, store = sys.argv[1], sys.argv[2]
d = os.path.dirname(os.path.abspath(man))
for e in json.load(open(man))["pairs"]:
    if e["edge"]:
        shutil.copy(os.path.join(d, e["edge"]), store)
PY
(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$w/token")
declare -A ns_edge ns_dev addr
for k in "${!names[@]}"; do
    n=${names[$k]}
    NL_TAG=sl$$r$k
    tags+=("$NL_TAG")
    source "$src/bench/netns_link.sh"
    nl_setup "$first" "$rtt_ms"
    ns_edge[$n]=${NL_EDGE[0]} ns_dev[$n]=${NL_DEV[0]}
    mkdir -p "$w/store-$n"
    for f in "$w"/store/*; do [ -e "$f" ] && { cp -l "$f" "$w/store-$n/" 2>/dev/null || cp "$f" "$w/store-$n/"; }; done
    OMP_NUM_THREADS=1 nsenter "${NL_EDGE[@]}" "$OFF" edge --listen 10.79.1.1:0 \
        --port-file "$w/port-$n" --store "$w/store-$n" --threads 1 --token-file "$w/token" \
        2>"$w/edge-$n.log" &
    edge_pids+=($!)
done
shaper_rtt=()
[ "$NL_NETEM" = 1 ] || shaper_rtt=(--rtt "$rtt") # no netem here: the device's in-process shaper
for n in "${names[@]}"; do
    # an edge checks, loads and runs each model once before it listens: minutes on a loaded host
    for _ in $(seq 600); do [ -s "$w/port-$n" ] && break; sleep 0.5; done
    [ -s "$w/port-$n" ] || { echo "trace.sh: the $n edge did not listen in 300 s" >&2; cat "$w/edge-$n.log" >&2; exit 1; }
    addr[$n]=10.79.1.1:$(cat "$w/port-$n")
done
rate_all() { local t; for t in "${tags[@]}"; do NL_TAG=$t nl_rate "$1"; done; }

# The devices start one after another as they load, and each paces its images from its own
# start; so each is given images for the trace plus 10 minutes of loading (links to the
# images, over and over), and only those started within the trace count.
find "$images" -type f -name '*.png' | sort >"$w/list"
[ -s "$w/list" ] || { echo "trace.sh: no PNG images in $images" >&2; exit 2; }
mkdir -p "$w/img"
"$PY" - "$w/list" "$w/img" "$(( n_img + $("$PY" -c "print(int(600 / $every_s))") ))" <<'PY'
import os, sys
files = open(sys.argv[1]).read().split()
for i in range(int(sys.argv[3])):
    os.symlink(files[i % len(files)], os.path.join(sys.argv[2], f"{i:06d}.png"))
PY
images=$w/img

# All the runs at once; the trace starts when every device has answered its first image (each
# loads its models and pings first), and the same segment times apply to all.
dev_pids=()
for n in "${names[@]}"; do
    man=$plans
    extra=("${devopts[@]}")
    if [ "$n" != adaptive ]; then man=$w/$n.json; extra=(); fi
    nsenter "${ns_dev[$n]}" "$OFF" device --edge "${addr[$n]}" --token-file "$w/token" \
        --plans "$man" --images "$images" --every "$every" --threads 1 --cpu "$cpu" \
        --cpu-mode dilate-idle \
        "${shaper_rtt[@]}" "${extra[@]}" -o "$w/$n.jsonl" 2>"$w/$n.log" &
    dev_pids+=($!)
done
for n in "${names[@]}"; do
    for _ in $(seq 1200); do [ -s "$w/$n.jsonl" ] && break; sleep 0.5; done
done
: >"$w/times"
# each line: the rate, when its change began and when it was done (six tc commands: under load,
# most of a second); images started in between belong to no segment
for r in $(echo "$rates" | tr ',' ' '); do
    t=$(date +%s.%N)
    rate_all "$r"
    echo "$r $t $(date +%s.%N)" >>"$w/times"
    sleep "$seg"
done
t=$(date +%s.%N)
echo "end $t $t" >>"$w/times"
for p in "${dev_pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
echo "trace.sh: the runs are done; load: $(uptime | sed 's/.*load/load/')" >&2
if [ -n "$keep" ]; then
    mkdir -p "$keep"
    for n in "${names[@]}"; do cp "$w/$n.jsonl" "$w/$n.log" "$keep/"; done
    cp "$w/times" "$keep/"
fi

"$PY" - "$w" "$n_plans" "$plans" "$rtt" "$every" "$cpu" "${json:-}" "$src" <<'PY'
import json, os, re, sys
w, n_plans, man, rtt, every, cpu, out, src = sys.argv[1:9]
n_plans = int(n_plans)
d = os.path.dirname(os.path.abspath(man))
table = json.load(open(os.path.join(d, json.load(open(man))["table"])))
def load(name):
    rows, sw = [], []
    for l in open(f"{w}/{name}.jsonl"):
        try:
            j = json.loads(l)
        except ValueError:
            continue
        if "switch" in j: sw.append(j["switch"])
        elif "index" in j: rows.append(j)
    times = [l.split() for l in open(f"{w}/times")]
    # (rate, change done, next change begun); lines of one time (before 5 Dec 13:30) are both
    segs = [(t[0], float(t[-1]), float(times[i + 1][1])) for i, t in enumerate(times[:-1])]
    return rows, sw, segs
def stats(v):
    v = sorted(v)
    if not v: return None
    return {"n": len(v), "mean_s": sum(v) / len(v), "p95_s": v[min(len(v) - 1, int(0.95 * len(v)))]}
res = {"plans": [{"id": k, "kind": p["kind"], "cut": p["cut"]["tensor"], "tl": p["tl"],
                  "fixed_s": p["fixed_s"], "upload_bytes": p["upload_bytes"]}
                 for k, p in enumerate(table["plans"])],
       "rtt": rtt, "every": every, "device_cpu_percent": float(cpu), "segments": []}
runs = {"adaptive": load("adaptive")}
for k in range(n_plans):
    runs[f"fixed{k}"] = load(f"fixed{k}")
ad_rows, ad_sw, ad_segs = runs["adaptive"]
for i, (rate, t0, t1) in enumerate(ad_segs):
    s = {"rate": rate, "duration_s": t1 - t0, "runs": {}}
    for name, (rows, sw, segs) in runs.items():
        r, a, b = segs[i]
        inseg = [x for x in rows if a <= x["start_unix_s"] < b]
        s["runs"][name] = stats([x["timing"]["total_s"] for x in inseg])
        if name == "adaptive":
            s["errors"] = sum(x["via"] == "error" for x in inseg)
            s["probes"] = sum(bool(x.get("probe")) for x in inseg)
            idx = {x["index"] for x in inseg}
            swi = [x for x in sw if x["index"] in idx]
            if inseg:
                first = inseg[0]["index"]
                s["switches"] = [{"to": x["to"], "images": x["index"] - first,
                                  "seconds": rows[x["index"]]["start_unix_s"] - a,
                                  "bandwidth_bps": x["bandwidth_bps"], "rtt_s": x["rtt_s"]}
                                 for x in swi]
                settle = swi[-1]["index"] if swi else first
                s["runs"]["adaptive_after_switch"] = stats(
                    [x["timing"]["total_s"] for x in inseg if x["index"] >= settle])
                plans_used = {}
                for x in inseg:
                    plans_used[x["plan"]] = plans_used.get(x["plan"], 0) + 1
                s["adaptive_plans"] = plans_used
                # its images per plan: on a plan, is it as fast as that plan held fixed?
                for k in sorted(plans_used):
                    s["runs"][f"adaptive_on_plan{k}"] = stats(
                        [x["timing"]["total_s"] for x in inseg if x["plan"] == k])
    m = re.fullmatch(r"([0-9.]+)([kmg]?)bit", rate.lower())
    bps = float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[m.group(2)] if m else None
    for l in table.get("links", []):
        if bps and abs(l["bandwidth_bps"] - bps) < 1e-6 * bps: s["table_plan"] = l["plan"]
    fixed = {k: v for k, v in s["runs"].items() if k.startswith("fixed") and v}
    if fixed:
        best = min(fixed, key=lambda k: fixed[k]["mean_s"])
        s["best_fixed"] = best
        ad = s["runs"].get("adaptive_after_switch")
        if ad: s["adaptive_vs_best"] = ad["mean_s"] / fixed[best]["mean_s"]
    res["segments"].append(s)
print(f"plans: " + "; ".join(f"{p['id']}: {p['kind']} {p['cut']} tl={p['tl']}" for p in res["plans"]))
for s in res["segments"]:
    print(f"\n{s['rate']} ({s['duration_s']:.0f} s): the table's plan {s.get('table_plan')}; "
          f"adaptive used plans {s.get('adaptive_plans')} ({s.get('probes')} probes), "
          f"switches {s.get('switches')}")
    for name, v in s["runs"].items():
        if v: print(f"  {name:22s} n={v['n']:4d} mean {v['mean_s']*1e3:8.1f} ms  p95 {v['p95_s']*1e3:8.1f} ms")
    if "adaptive_vs_best" in s:
        print(f"  adaptive (after switch) / best fixed ({s['best_fixed']}): {s['adaptive_vs_best']:.3f}")
if out:
    json.dump(res, open(out, "w"), indent=1)
PY
