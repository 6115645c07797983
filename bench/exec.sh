#!/usr/bin/env bash
# exec.sh: our executor (default: compiled TorchScript stretches; and the plain path, node by node
# on strided tensors) vs PyTorch eager vs TorchScript (frozen + optimize_for_inference), 224x224,
# batch 1 and 8, 2 threads, in one run. open_ms is the time to open the bundle and plan the run
# (ours: including compiling, freezing and optimising; plain: reading and planning only), so
# their difference is the compile cost of the whole model.
#
# Each implementation is one process per row that stays loaded (bench_exec --serve for ours and
# plain, bench/exec_peer.py --serve for eager and TorchScript), started one after another in the
# first round. Rounds are interleaved, with the order of the three processes rotated each round,
# so that all see the same load and none always runs first. A round of one implementation is 2
# warm-up runs (1 after the first round) and then at least REPEATS timed runs and at least
# MIN_SECONDS (environment, default 0.5) of them, so that a 6 ms row is timed on ~80 runs
# per round and a 2 s row on REPEATS.
# Times are the median over rounds of each round's median. A ratio is computed per round (ours
# against the other implementation of the same round) and reported as the median over rounds
# with the lowest and highest round in brackets: that range is the run's noise on the row.
# "min" is the median over rounds of the ratio of each round's fastest repeats. The target
# columns read "met" when every round's ratio is within the target (0.9x eager, 1.0x
# TorchScript), "over" when no round's is, and "noise" when the rounds disagree.
# usage: bench/exec.sh [BUILD] [REPEATS] [ROUNDS] [ARCH...]   (defaults: build 3 5, all seven)
set -euo pipefail
build=${1:-build}
repeats=${2:-3}
rounds=${3:-5}
shift $(($# < 3 ? $# : 3))
archs=${*:-resnet18 resnet34 resnet50 mobilenet_v2 vgg11 vgg16 densenet121}
src=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
py=/usr/bin/python3
# Opening a bundle checks it in a child process with a deadline (model/bundle.c) that a loaded
# machine can overrun; the benchmark trusts the bundles it has just written.
export SL_BUNDLE_CHECK_SECONDS=${SL_BUNDLE_CHECK_SECONDS:-600}
echo "# $(date -u '+%F %H:%M UTC'); load $(cut -d' ' -f1-3 /proc/loadavg); repeats >= $repeats" \
    "and >= ${MIN_SECONDS:-0.5} s per round, $rounds rounds"
printf '%-13s %5s %8s %8s %8s %8s | %-19s %-19s %-6s | %-6s %-6s | %-6s | %s\n' model batch \
    ours_ms plain_ms eager_ms script_ms "vs eager [range]" "vs script [range]" "min" \
    "eager" "script" "plain" "open ours/plain ms, repeats"
for arch in $archs; do
    "$build/bin/sl-preprocess" zoo "$arch" -o "$work/$arch.h5" 2>/dev/null
    for batch in 1 8; do
        $py - "$build/bench/bench_exec" "$src/exec_peer.py" "$work/$arch.h5" "$arch" "$batch" \
            "$repeats" "$rounds" "${MIN_SECONDS:-0.5}" <<'PY'
import json, statistics as st, subprocess, sys
bench, peer, model, arch, batch, repeats, rounds, min_s = sys.argv[1:]
rounds = int(rounds)
common = [batch, "2", repeats, "--min-seconds", min_s, "--serve"]
cmds = {"ours": [bench, model] + common, "plain": [bench, model] + common + ["--plain"],
        "peer": [sys.executable, peer, arch] + common}
procs, res = {}, {k: [] for k in ("ours", "plain", "pytorch-eager", "torchscript-frozen")}
order = ["ours", "peer", "plain"]
for r in range(rounds):
    for name in order[r % 3:] + order[:r % 3]:
        if name not in procs:  # started in the first round, one after another
            procs[name] = subprocess.Popen(cmds[name], stdin=subprocess.PIPE,
                                           stdout=subprocess.PIPE, text=True)
        p = procs[name]
        p.stdin.write("go\n")
        p.stdin.flush()
        for _ in range(2 if name == "peer" else 1):
            line = p.stdout.readline()
            if not line:
                sys.exit("exec.sh: %s %s batch %s stopped (exit %s)" % (name, arch, batch, p.wait()))
            d = json.loads(line)
            res[d["impl"] if name == "peer" else name].append(d)
for p in procs.values():
    p.stdin.close()
    p.wait()
ours, plain, eager, script = (res[k] for k in res)
def med(rs, k="median_ms"):
    return st.median(d[k] for d in rs)
def ratios(a, b, k="median_ms"):
    return [x[k] / y[k] for x, y in zip(a, b)]
def rng(v):
    return "%5.2fx [%4.2f-%4.2f]" % (st.median(v), min(v), max(v))
def verdict(v, target):
    return "met" if max(v) <= target else "over" if min(v) > target else "noise"
ve, vs = ratios(ours, eager), ratios(ours, script)
print("%-13s %5s %8.1f %8.1f %8.1f %8.1f | %-19s %-19s %5.2fx | %-6s %-6s | %5.2fx | %.0f / %.0f, %d" % (
    arch, batch, med(ours), med(plain), med(eager), med(script), rng(ve), rng(vs),
    st.median(ratios(ours, script, "min_ms")), verdict(ve, 0.9), verdict(vs, 1.0),
    st.median(ratios(plain, ours)), ours[0]["open_ms"], plain[0]["open_ms"],
    st.median(d["repeats"] for d in ours)), flush=True)
PY
    done
done
echo "# done $(date -u '+%H:%M UTC'); load $(cut -d' ' -f1-3 /proc/loadavg)"
