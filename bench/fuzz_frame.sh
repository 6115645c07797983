#!/usr/bin/env bash
# fuzz_frame.sh: runs the libFuzzer target for everything that parses bytes from the network
# (offloader/fuzz_frame.c: frames from a buffer and from a socket, tensor payloads, ERROR
# payloads, the server side of the handshake) under ASan + UBSan, starting from the valid frames
# of tests/offloader/fuzz_seeds.py, and prints the executions, the rate and any crash.
#
#   bench/fuzz_frame.sh [--build DIR] [--time SECONDS] [--runs N] [--corpus DIR]
#
# Defaults: build-fuzz, 600 s, no run limit, a fresh corpus in a temporary folder (removed at
# the end; pass --corpus to keep it and resume). Runs under nice -n 10 (the machine is shared).
# Exit code: 0 when libFuzzer found nothing, 1 when it found a crash (the input is kept in the
# work folder, whose path is printed), 2 for usage errors, 77 when clang is missing.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$src/build-fuzz time_s=600 runs=-1 corpus=""
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$2; shift 2 ;;
    --time) time_s=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --corpus) corpus=$2; shift 2 ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fuzz_frame.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done
command -v clang >/dev/null || { echo "fuzz_frame.sh: clang is not installed (apt-get install clang)" >&2; exit 77; }
mkdir -p "$build" && build=$(cd "$build" && pwd)
[ -f "$build/CMakeCache.txt" ] || cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target sl-fuzz-frame >/dev/null
work=$(mktemp -d "${TMPDIR:-/tmp}/sl-fuzz.XXXXXX")
keep=0
trap '[ "$keep" = 1 ] || rm -rf "$work"' EXIT
if [ -z "$corpus" ]; then corpus=$work/corpus; fi
mkdir -p "$corpus" "$work/seeds"
/usr/bin/python3 "$src/tests/offloader/fuzz_seeds.py" "$work/seeds" >/dev/null
cd "$work"
set +e
nice -n 10 "$build/bin/sl-fuzz-frame" -max_total_time="$time_s" -runs="$runs" -max_len=4096 \
    -print_final_stats=1 -artifact_prefix="$work/" "$corpus" "$work/seeds" >"$work/log" 2>&1
rc=$?
set -e
grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$work/log" || true
done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$work/log" || true)
if [ -n "$done_line" ]; then echo "$done_line"; fi
if [ $rc -ne 0 ]; then
    keep=1
    grep -E 'ERROR: (AddressSanitizer|libFuzzer)|runtime error|SUMMARY' "$work/log" | head -5 >&2 || true
    echo "fuzz_frame.sh: libFuzzer exited $rc; log and crash input in $work" >&2
    exit 1
fi
