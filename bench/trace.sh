#!/usr/bin/env bash
# trace.sh: the adaptive device (`sl-offload device --plans`) against each fixed plan of its plan
# table over a bandwidth trace on a real link (issue 16). An edge and a device in two network
# namespaces joined by a veth pair, tc tbf on both ends under netem for the RTT
# (bench/netns_link.sh); the rate follows the trace (`tc qdisc change`, default 30 s each at 20,
# 5, 1 and 10 Mbit/s) while the device classifies an image every --every (a camera's rate). The
# same trace is run once adaptive and once per plan of the table held fixed (a one-plan table:
# the same code path, never switching). Per segment: mean and p95 latency of each run (the
# adaptive one also after its last switch in the segment), and the switch delay in images and
# seconds from the rate change. The device runs under --cpu PCT, as profiled.
#
# usage: bench/trace.sh [--build DIR] [--plans plans.json] [--rates 20mbit,5mbit,1mbit,10mbit]
#                       [--segment 30] [--rtt 20ms] [--every 50ms] [--cpu 10] [--json FILE]
#                       [--arch tinycnn --input 3x96x96]
#   --plans M   a manifest (make -f pipeline.mk plans ...) and its images with --images DIR;
#               default: a line made here (--arch at --input with random weights — latency
#               only — profiled as a device at --cpu PCT and an edge of one thread, the table
#               selected over the trace's rates, TLs inserted without fine-tuning)
#   --images D  the images (default: synthetic casting images at the model's size)
# Needs root and network namespaces (exits 77 otherwise, 1 with SL_REQUIRE_NETNS=1).
# Takes (1 + plans) x segments x --segment seconds: 8 min for the defaults and 3 plans.
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
json=""
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$2; shift 2 ;;
    --plans) plans=$2; shift 2 ;;
    --images) images=$2; shift 2 ;;
    --rates) rates=$2; shift 2 ;;
    --segment) seg=$2; shift 2 ;;
    --rtt) rtt=$2; shift 2 ;;
    --every) every=$2; shift 2 ;;
    --cpu) cpu=$2; shift 2 ;;
    --arch) arch=$2; shift 2 ;;
    --input) input=$2; shift 2 ;;
    --json) json=$2; shift 2 ;;
    -h | --help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "trace.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done
PY=${SL_PYTHON:-/usr/bin/python3}
bin=$(cd "$build/bin" && pwd)
OFF=$bin/sl-offload P=$bin/sl-preprocess
NL_TAG=sl$$t
source "$src/bench/netns_link.sh"
nl_probe
w=$(mktemp -d "${TMPDIR:-/tmp}/sl-trace.XXXXXX")
edge_pid=""
cleanup() {
    [ -n "$edge_pid" ] && kill "$edge_pid" 2>/dev/null && wait "$edge_pid" 2>/dev/null
    nl_cleanup
    rm -rf "$w"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ms() { "$PY" -c "import re,sys; s=sys.argv[1]; v=float(re.match(r'[0-9.]+',s).group()); print(v if s.endswith('ms') else v*1000)" "$1"; }
rtt_ms=$(ms "$rtt")
every_s=$("$PY" -c "print($(ms "$every")/1000)")

if [ -z "$plans" ]; then
    mkdir -p "$w/plans"
    "$P" zoo "$arch" --input "$input" --classes 4 -o "$w/plans/model.h5" >/dev/null 2>&1
    "$P" profile "$w/plans/model.h5" --threads 1 --cpu "$cpu" --tl pool,conv-r4-s2-b8 \
        --warmup 1 --repeats 3 -o "$w/dev.json" 2>"$w/profile.log" || { cat "$w/profile.log"; exit 1; }
    "$P" profile "$w/plans/model.h5" --threads 1 --tl pool,conv-r4-s2-b8 --warmup 1 \
        --repeats 3 -o "$w/edge.json" 2>>"$w/profile.log" || { cat "$w/profile.log"; exit 1; }
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
n_seg=$(echo "$rates" | tr ',' '\n' | wc -l)
n_img=$("$PY" -c "print(int($n_seg * $seg / $every_s) + 1)")
if [ -z "$images" ]; then
    [ "$plans" = "$w/plans/plans.json" ] || { echo "trace.sh: --plans needs --images" >&2; exit 2; }
    per=$(( (n_img + 3) / 4 ))
    "$bin/sl-data" synth --product casting --size "${input##*x}" --per-class "$per" --out "$w/data" >/dev/null 2>&1
    images=$w/data
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

# The link and the edge, serving every edge file of the manifest.
first=$(echo "$rates" | cut -d, -f1)
nl_setup "$first" "$rtt_ms"
shaper_rtt=()
[ "$NL_NETEM" = 1 ] || shaper_rtt=(--rtt "$rtt") # no netem here: the device's in-process shaper
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
OMP_NUM_THREADS=1 nsenter "${NL_EDGE[@]}" "$OFF" edge --listen 10.79.1.1:0 --port-file "$w/port" \
    --store "$w/store" --threads 1 --token-file "$w/token" 2>"$w/edge.log" &
edge_pid=$!
for _ in $(seq 100); do [ -s "$w/port" ] && break; sleep 0.1; done
[ -s "$w/port" ] || { cat "$w/edge.log" >&2; exit 1; }
E=10.79.1.1:$(cat "$w/port")

# One run over the trace: the rate at each segment's start (times in $w/NAME.times).
run() { # run NAME MANIFEST
    nl_rate "$first"
    ls "$images" >/dev/null
    nsenter "${NL_DEV[@]}" "$OFF" device --edge "$E" --token-file "$w/token" --plans "$2" --images "$images" \
        --every "$every" --threads 1 --cpu "$cpu" "${shaper_rtt[@]}" -o "$w/$1.jsonl" 2>"$w/$1.log" &
    local dev=$! r
    : >"$w/$1.times"
    # the trace starts at the first answer (the device loads its models and pings first)
    for _ in $(seq 600); do [ -s "$w/$1.jsonl" ] && break; sleep 0.1; done
    for r in $(echo "$rates" | tr ',' ' '); do
        nl_rate "$r"
        echo "$r $(date +%s.%N)" >>"$w/$1.times"
        sleep "$seg"
    done
    echo "end $(date +%s.%N)" >>"$w/$1.times"
    kill "$dev" 2>/dev/null || true
    wait "$dev" 2>/dev/null || true
    echo "trace.sh: $1 done" >&2
}
head -n "$n_img" < <(find "$images" -type f -name '*.png' | sort) >"$w/list"
mkdir -p "$w/img"
while read -r f; do ln -s "$f" "$w/img/$(echo "${f#"$images"/}" | tr / _)"; done <"$w/list"
images=$w/img
run adaptive "$plans"
for k in $(seq 0 $((n_plans - 1))); do run "fixed$k" "$w/fixed$k.json"; done

"$PY" - "$w" "$n_plans" "$plans" "$rtt" "$every" "$cpu" "${json:-}" "$src" <<'PY'
import json, os, sys
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
    times = [l.split() for l in open(f"{w}/{name}.times")]
    segs = [(r, float(t), float(times[i + 1][1])) for i, (r, t) in enumerate(times[:-1])]
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
            idx = {x["index"] for x in inseg}
            swi = [x for x in sw if x["index"] in idx]
            if inseg:
                first = inseg[0]["index"]
                s["switches"] = [{"to": x["to"], "images": x["index"] - first,
                                  "seconds": rows[x["index"]]["start_unix_s"] - a,
                                  "bandwidth_bps": x["bandwidth_bps"]} for x in swi]
                settle = swi[-1]["index"] if swi else first
                s["runs"]["adaptive_after_switch"] = stats(
                    [x["timing"]["total_s"] for x in inseg if x["index"] >= settle])
                plans_used = {}
                for x in inseg:
                    plans_used[x["plan"]] = plans_used.get(x["plan"], 0) + 1
                s["adaptive_plans"] = plans_used
    fixed = {k: v for k, v in s["runs"].items() if k.startswith("fixed") and v}
    if fixed:
        best = min(fixed, key=lambda k: fixed[k]["mean_s"])
        s["best_fixed"] = best
        ad = s["runs"].get("adaptive_after_switch")
        if ad: s["adaptive_vs_best"] = ad["mean_s"] / fixed[best]["mean_s"]
    res["segments"].append(s)
print(f"plans: " + "; ".join(f"{p['id']}: {p['kind']} {p['cut']} tl={p['tl']}" for p in res["plans"]))
for s in res["segments"]:
    print(f"\n{s['rate']} ({s['duration_s']:.0f} s): adaptive used plans {s.get('adaptive_plans')}, "
          f"switches {s.get('switches')}")
    for name, v in s["runs"].items():
        if v: print(f"  {name:22s} n={v['n']:4d} mean {v['mean_s']*1e3:8.1f} ms  p95 {v['p95_s']*1e3:8.1f} ms")
    if "adaptive_vs_best" in s:
        print(f"  adaptive (after switch) / best fixed ({s['best_fixed']}): {s['adaptive_vs_best']:.3f}")
if out:
    json.dump(res, open(out, "w"), indent=1)
PY
