#!/usr/bin/env bash
# exec.sh: our executor (default MKL-DNN path, and the plain strided path) vs PyTorch eager vs
# TorchScript (frozen + optimize_for_inference), 224x224, batch 1 and 8, 2 threads, in one run.
# Implementations are interleaved round by round (the PyTorch peer stays loaded between rounds),
# so that all of them see the same load; a time is the median over rounds of each round's
# median, a ratio the median over rounds of that round's ratio.
# usage: bench/exec.sh [BUILD] [REPEATS] [ROUNDS] [ARCH...]
set -euo pipefail
build=${1:-build}
repeats=${2:-10}
rounds=${3:-3}
shift $(($# < 3 ? $# : 3))
archs=${*:-resnet18 mobilenet_v2 resnet50 vgg16}
src=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
py=/usr/bin/python3
ms() { $py -c 'import json,sys; print(json.loads(sys.stdin.readline())["median_ms"])'; }
printf '%-13s %5s %9s %9s %9s %9s %9s %9s %9s\n' model batch ours_ms plain_ms eager_ms \
    script_ms vs_eager vs_script plain/ours
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
rows = [[float(v) for v in line.split()] for line in open(path) if line.strip()]
med = lambda xs: st.median(xs)
o, p, e, s = (med([r[i] for r in rows]) for i in range(4))
print('%-13s %5d %9.1f %9.1f %9.1f %9.1f %8.2fx %8.2fx %8.2fx' % (
    arch, batch, o, p, e, s, med([r[0] / r[2] for r in rows]), med([r[0] / r[3] for r in rows]),
    med([r[1] / r[0] for r in rows])))
PY
    done
done
