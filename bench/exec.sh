#!/usr/bin/env bash
# exec.sh: our executor (default: compiled TorchScript stretches; and the plain path, node by node
# on strided tensors) vs PyTorch eager vs TorchScript (frozen + optimize_for_inference), 224x224,
# batch 1 and 8, 2 threads, in one run. open_ms is the time to open the bundle and plan the run
# (ours: including compiling, freezing and optimising; plain: reading and planning only), so
# their difference is the compile cost of the whole model.
# Implementations are interleaved round by round (the PyTorch peer stays loaded between rounds),
# so that all of them see the same load. Times are the median over rounds of each round's
# median; ratios are the median over rounds of that round's ratio, from the medians ("med") and
# from the fastest repeats ("min", the least disturbed by other processes on a shared machine).
# usage: bench/exec.sh [BUILD] [REPEATS] [ROUNDS] [ARCH...]
set -euo pipefail
build=${1:-build}
repeats=${2:-10}
rounds=${3:-3}
shift $(($# < 3 ? $# : 3))
archs=${*:-resnet18 resnet34 resnet50 mobilenet_v2 vgg11 vgg16 densenet121}
src=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
py=/usr/bin/python3
# Opening a bundle checks it in a child process with a deadline (model/bundle.c) that a loaded
# machine can overrun; the benchmark trusts the bundles it has just written.
export SL_BUNDLE_CHECK_SECONDS=${SL_BUNDLE_CHECK_SECONDS:-600}
ms() { $py -c 'import json,sys; d=json.loads(sys.stdin.readline()); print(d["median_ms"], d["min_ms"], d.get("open_ms", 0))'; }
printf '%-13s %5s %8s %8s %8s %8s | %-17s %-17s %-17s | %s\n' model batch ours_ms plain_ms eager_ms \
    script_ms "vs eager med/min" "vs script med/min" "plain/ours med/min" "open ours/plain ms"
for arch in $archs; do
    "$build/bin/sl-preprocess" zoo "$arch" -o "$work/$arch.h5" 2>/dev/null
    for batch in 1 8; do
        coproc PEER { exec $py "$src/exec_peer.py" "$arch" "$batch" 2 "$repeats" --serve; }
        : >"$work/rounds"
        for ((r = 0; r < rounds; r++)); do
            ours=$("$build/bench/bench_exec" "$work/$arch.h5" "$batch" 2 "$repeats" | ms)
            echo go >&"${PEER[1]}"
            read -r eager_line <&"${PEER[0]}"
            read -r script_line <&"${PEER[0]}"
            plain=$("$build/bench/bench_exec" "$work/$arch.h5" "$batch" 2 "$repeats" --plain | ms)
            echo "$ours $plain $(ms <<<"$eager_line") $(ms <<<"$script_line")" >>"$work/rounds"
        done
        exec {PEER[1]}>&-
        wait "$PEER_PID" || true
        $py - "$arch" "$batch" "$work/rounds" <<'PY'
import statistics as st, sys
arch, batch, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
# Per round: ours, plain, eager, script, each as (median, min, open).
rows = [[float(v) for v in line.split()] for line in open(path) if line.strip()]
def col(i, k):
    return [r[3 * i + k] for r in rows]
def ratio(a, b):
    return '%5.2fx / %5.2fx' % tuple(st.median([x / y for x, y in zip(col(a, k), col(b, k))])
                                     for k in (0, 1))
print('%-13s %5d %8.1f %8.1f %8.1f %8.1f | %-17s %-17s %-17s | %.0f / %.0f' % (
    arch, batch, *(st.median(col(i, 0)) for i in range(4)), ratio(0, 2), ratio(0, 3),
    ratio(1, 0), st.median(col(0, 2)), st.median(col(1, 2))), flush=True)
PY
    done
done
