#!/bin/bash
# run-all.sh: every benchmark of bench/, one after the other (make bench). Each prints its table
# (Markdown) to stdout; the figures in docs/benchmarks.md were produced by these commands on an
# idle machine. Slow: about an hour on 2 cores, most of it the TL quality table and the
# learnability runs.
#
#   bench/run-all.sh [BUILD] [NAME...]    NAME: exec data train-speed train-quality learn netns
#                                         (default: all of them, in that order)
# netns needs root (it is skipped otherwise). Run on an otherwise idle machine: the scripts
# interleave implementations so that both sides see the same load, but a busy machine still
# makes the ratios noisy.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
arg=${1:-build}
shift || true
BUILD=$(cd "$arg" 2>/dev/null && pwd) || { echo "run-all.sh: no build folder '$arg' (run make first)" >&2; exit 2; }
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(exec data train-speed train-quality learn netns)

failed=()
for n in "${names[@]}"; do
    echo
    echo "## $n ($(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg))"
    echo
    case $n in
    exec) "$HERE/exec.sh" "$BUILD" ;;
    data) "$HERE/data.sh" "$BUILD" ;;
    train-speed) "$HERE/train.sh" speed "$BUILD" ;;
    train-quality) "$HERE/train.sh" quality "$BUILD" ;;
    learn) "$HERE/learn.sh" "$BUILD" ;;
    netns) "$HERE/netns.sh" --build "$BUILD" ;;
    *) echo "run-all.sh: unknown benchmark '$n'" >&2; false ;;
    esac
    rc=$?
    # 77: the benchmark cannot run here (netns without root); not a failure
    if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then failed+=("$n"); fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "run-all.sh: failed: ${failed[*]}" >&2
    exit 1
fi
