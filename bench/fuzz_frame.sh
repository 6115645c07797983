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
# It prints libFuzzer's executions with the wall and CPU time; a watchdog (bench/fuzz_lib.sh) kills
# the run, by pid, if it lives 1,200 s past --time. Exit code: 0 when libFuzzer found nothing, 1
# when it found a crash (the input is kept in the work folder, whose path is printed) or the
# watchdog fired, 2 for usage errors, 77 when clang or GNU time is missing.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
name=fuzz_frame.sh build=$src/build-fuzz
# shellcheck source=bench/fuzz_lib.sh
. "$src/bench/fuzz_lib.sh"
fuzz_options 14 "$@"
fuzz_need_clang "apt-get install clang"
fuzz_configure
cmake --build "$build" --target sl-fuzz-frame >/dev/null
fuzz_workdir sl-fuzz
/usr/bin/python3 "$src/tests/offloader/fuzz_seeds.py" "$work/seeds" >/dev/null
fuzz_run "$build/bin/sl-fuzz-frame" 4096
