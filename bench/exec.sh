#!/usr/bin/env bash
# exec.sh: our executor vs PyTorch eager vs TorchScript (frozen + optimize_for_inference),
# 224x224, batch 1 and 8, 2 threads, in one run. usage: bench/exec.sh [BUILD] [REPEATS]
set -euo pipefail
build=${1:-build}
repeats=${2:-20}
src=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
py=/usr/bin/python3
printf '%-14s %5s %12s %12s %12s %10s %10s\n' model batch ours_ms eager_ms script_ms vs_eager vs_script
for arch in resnet18 mobilenet_v2 resnet50 vgg16; do
    "$build/bin/sl-preprocess" zoo "$arch" -o "$work/$arch.h5" 2>/dev/null
    for batch in 1 8; do
        ours=$("$build/bench/bench_exec" "$work/$arch.h5" "$batch" 2 "$repeats" | $py -c 'import json,sys; print(json.load(sys.stdin)["median_ms"])')
        peer=$($py "$src/exec_peer.py" "$arch" "$batch" 2 "$repeats")
        eager=$(grep eager <<<"$peer" | $py -c 'import json,sys; print(json.load(sys.stdin)["median_ms"])')
        script=$(grep torchscript <<<"$peer" | $py -c 'import json,sys; print(json.load(sys.stdin)["median_ms"])')
        $py -c "print('%-14s %5d %12.2f %12.2f %12.2f %9.2fx %9.2fx' % ('$arch', $batch, $ours, $eager, $script, $ours/$eager, $ours/$script))"
    done
done
