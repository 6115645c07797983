#!/usr/bin/env bash
# noise.sh: how far apart are two measurements of the same thing on this machine? Runs the same
# local-only bench (`sl-offload bench --local-only`: the whole model on the slow device, no
# network) again and again, and times a fixed piece of work on each CPU (bench/host_probe.c)
# before and after each run. Prints every run, the spread of their medians, and how well the probe's
# readings follow the bench's (correlation). A prediction cannot be checked more closely than
# two runs of the bench agree with each other: read this before reading a miss of
# bench/predictions.sh.
#
# usage: bench/noise.sh --model MODEL.h5 --images DIR [--build DIR] [--cpu 25] [--limit 48]
#                       [--runs 16] [--probe fp|chase] [--json FILE]
#   --model, --images  what sl-offload bench runs (a model bundle, a folder of images)
#   --cpu PCT   the device's share of one core (dilated, as the benches play it; default 25)
#   --limit N   images per run (default 48)
#   --runs N    bench processes one after another (default 16)
#   --probe K   host_probe's work: fp (the core's throughput, default) or chase (the cache)
#   --json F    also write the runs and the summary as one JSON document
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$src/build model="" images="" cpu=25 limit=48 runs=16 json="" kind=fp
source "$src/bench/lib.sh"
bench_options 17 --build=build --model=model --images=images --cpu=cpu --limit=limit \
    --runs=runs --probe=kind --json=json -- "$@"
[ -n "$model" ] && [ -n "$images" ] || { echo "noise.sh: --model and --images are required" >&2; exit 2; }
[ -f "$model" ] || { echo "noise.sh: --model: '$model' is not a file" >&2; exit 2; }
[ -d "$images" ] || { echo "noise.sh: --images: '$images' is not a folder" >&2; exit 2; }
case $kind in fp | chase) ;; *) echo "noise.sh: --probe: '$kind' is not fp or chase" >&2; exit 2 ;; esac
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "noise.sh: --runs: '$runs' is not a positive whole number" >&2; exit 2; }
B=$build/bin/sl-offload
probe=$build/bench/host_probe
[ -x "$B" ] && [ -x "$probe" ] || { echo "noise.sh: build '$build' first (sl-offload, bench/host_probe)" >&2; exit 2; }
PY=${SL_PYTHON:-/usr/bin/python3}
w=$(mktemp -d "${TMPDIR:-/tmp}/sl-noise.XXXXXX")
trap 'rm -rf "$w"' EXIT

echo "noise.sh: $runs local-only benches of $(basename "$model") at --cpu $cpu, $limit images each" >&2
for i in $(seq 1 "$runs"); do
    before=$("$probe" --kind "$kind")
    "$B" bench --model "$model" --images "$images" --limit "$limit" --threads 1 --cpu "$cpu" \
        --local-only --json >"$w/run-$i.json" 2>"$w/run-$i.log" \
        || { cat "$w/run-$i.log" >&2; echo "noise.sh: bench run $i failed" >&2; exit 1; }
    after=$("$probe" --kind "$kind")
    printf '%s\t%s\t%s\t%s\n' "$i" "$(date -u +%T)" "$before" "$after" >>"$w/probes.tsv"
    echo "  run $i of $runs done" >&2
done

"$PY" - "$w" "$runs" "$json" "$kind" <<'PYEOF'
import json, statistics as st, sys
w, runs, out, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def probe_ms(line):  # "cpu0 4.06 cpu1 6.40" -> [4.06, 6.40]
    f = line.split()
    return [float(x) for x in f[1::2]]
rows = []
for line in open(f"{w}/probes.tsv"):
    i, t, before, after = line.rstrip("\n").split("\t")
    modes = json.load(open(f"{w}/run-{i}.json"))["modes"]
    local = [m for m in modes if m["mode"] == "local"][0]
    p = probe_ms(before) + probe_ms(after)
    rows.append({"run": int(i), "utc": t, "median_ms": local["median_s"] * 1e3,
                 "p95_ms": local["p95_s"] * 1e3, "probe_ms": p})
fast = min(min(r["probe_ms"]) for r in rows)
for r in rows:
    r["probe_mean_ms"] = st.mean(r["probe_ms"])
    r["probe_slow_share"] = sum(x > 1.5 * fast for x in r["probe_ms"]) / len(r["probe_ms"])
med = [r["median_ms"] for r in rows]
mid = st.median(med)
print("| run | UTC | local median ms | from the runs' median | p95 ms | probe ms (before, after; per CPU) |")
print("|---:|---|---:|---:|---:|---|")
for r in rows:
    print(f"| {r['run']} | {r['utc']} | {r['median_ms']:.2f} | {100 * (r['median_ms'] / mid - 1):+.1f} % | "
          f"{r['p95_ms']:.2f} | {', '.join(f'{x:.1f}' for x in r['probe_ms'])} |")
q = st.quantiles(med, n=10, method="inclusive") if len(med) >= 2 else [mid] * 9
corr = None
if len(rows) >= 3 and len(set(med)) > 1 and len({r["probe_mean_ms"] for r in rows}) > 1:
    corr = st.correlation(med, [r["probe_mean_ms"] for r in rows])
off = sum(abs(m / mid - 1) > 0.10 for m in med)
summary = {"runs": len(rows), "probe": kind, "median_ms": mid, "min_ms": min(med), "max_ms": max(med),
           "p10_ms": q[0], "p90_ms": q[-1], "runs_beyond_10pct": off,
           "spread_pct": 100 * (max(med) / min(med) - 1),
           "probe_fastest_ms": fast,
           "probe_slow_share": st.mean(r["probe_slow_share"] for r in rows),
           "correlation_with_probe": corr}
print(f"\nlocal medians: {mid:.2f} ms (the runs' median), {min(med):.2f}-{max(med):.2f} ms "
      f"(p10 {q[0]:.2f}, p90 {q[-1]:.2f}); {off} of {len(rows)} runs more than 10 % from the "
      f"runs' median; max / min = {max(med) / min(med):.2f}")
print(f"probe ({kind}): fastest {fast:.2f} ms; {100 * summary['probe_slow_share']:.0f} % of readings over 1.5x it "
      f"(a slow spell); correlation of a run's median with its probes' mean: "
      + (f"{corr:+.2f}" if corr is not None else "n/a"))
if out:
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"format": "sl-noise", "rows": rows, "summary": summary}, f, indent=1)
    import os
    os.replace(tmp, out)
PYEOF
