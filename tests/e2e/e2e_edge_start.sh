#!/usr/bin/env bash
# e2e_edge_start.sh: what `sl-offload edge` does with its store at start, and when a model runs
# for the first time.
# - The store holds an edge half, a whole model, a file on which libhdf5 segfaults
#   (tests/model/fuzz_found/hdf5-global-heap-segv.h5, as if planted) and a truncated copy of the
#   edge half (damaged on disk). Each file is read first in a child process with a deadline, as
#   an upload is: the two bad ones are refused with a log line naming the file and the reason,
#   the edge starts anyway and serves the two good ones, and not the bad ones.
# - Every model ran once before the edge listened (its log says so), so the first request to
#   each, and to a model deployed later, is not its first run: the edge's
#   sl_edge_cold_runs_total stays 0. The same edge with --no-warm counts the first request as
#   a cold run, so the counter does see one.
source "$(dirname "$0")/lib.sh"
: "${SL_SRC:?}"
use_models e.h5 d.h5 m.h5 te.h5 td.h5
"$DATA" synth --product casting --size 32 --per-class 1 --out "$W/data" 2>/dev/null
(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$W/token")
S=$W/edge.store
mkdir -p "$S"
cp "$W/e.h5" "$W/m.h5" "$S/"
cp "$SL_SRC/tests/model/fuzz_found/hdf5-global-heap-segv.h5" "$S/planted.h5"
head -c 20000 "$W/e.h5" >"$S/truncated.h5"

metrics() { py "$1" <<'PY'
import sys, urllib.request
port = open(sys.argv[1]).read().strip()
print(urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read().decode())
PY
}
# metric FILE NAME: the value of metric NAME in the metrics text FILE.
metric() { awk -v n="$2" '$1 == n { print $2 }' "$1"; }

# 1. The bad files are refused by name and reason; the edge starts and serves the good ones.
start_edge edge 0 --metrics 127.0.0.1:0 --metrics-port-file "$W/metrics.port"
E=127.0.0.1:$EDGE_PORT
L=$W/edge.log
grep -q "stored bundle planted.h5 not served: .*planted.h5: reading it crashed the bundle check (signal 11)" "$L" \
    || fail "no refusal of planted.h5: $(cat "$L")"
grep -q "stored bundle truncated.h5 not served: .*truncated.h5: " "$L" || fail "no refusal of truncated.h5: $(cat "$L")"
grep -q "2 bundle(s) from .* (2 refused)" "$L" || fail "$(cat "$L")"
timeout 60 "$OFF" deploy --edge "$E" --token-file "$W/token" --list >"$W/list.json" \
    || fail "deploy --list"
py "$W/list.json" <<'PY' || fail "list: $(cat "$W/list.json")"
import json, sys
files = sorted(b["file"] for b in json.load(open(sys.argv[1]))["bundles"])
assert files == ["e.h5", "m.h5"], files
PY
pass "planted and truncated files refused at start, the edge serves e.h5 and m.h5"

# 2. Each model ran once before the edge listened; the first requests are not cold.
for f in e.h5 m.h5; do
    grep -q "serving $f (pair id [0-9a-f]*): checked in [0-9.]* s, loaded in [0-9.]* s, first run [0-9.]* s before serving" "$L" \
        || fail "no warm run of $f: $(cat "$L")"
done
dev --model "$W/d.h5" -o "$W/split.jsonl" 2>"$W/dev.log" || fail "device: $(cat "$W/dev.log")"
# a whole model: the edge-only plan, the raw image to the edge's m.h5
dev --model "$W/m.h5" -o "$W/only.jsonl" 2>"$W/dev.log" || fail "edge-only: $(cat "$W/dev.log")"
N=$(find "$W/data" -name '*.png' | wc -l)
check_lines "$W/split.jsonl" edge >/dev/null || fail "split results: $(cat "$W/split.jsonl")"
check_lines "$W/only.jsonl" edge >/dev/null || fail "edge-only results: $(cat "$W/only.jsonl")"
metrics "$W/metrics.port" >"$W/m1.txt" || fail "metrics"
[ "$(metric "$W/m1.txt" sl_edge_results_total)" = $((2 * N)) ] || fail "$(cat "$W/m1.txt")"
[ "$(metric "$W/m1.txt" sl_edge_cold_runs_total)" = 0 ] || fail "a cold first request: $(cat "$W/m1.txt")"
[ "$(metric "$W/m1.txt" sl_edge_store_refused)" = 2 ] || fail "$(cat "$W/m1.txt")"
pass "the first requests to e.h5 and m.h5 were not their models' first runs"

# 3. A deployed model runs once before it is installed and the deploy acknowledged.
timeout 60 "$OFF" deploy --edge "$E" --token-file "$W/token" "$W/te.h5" >/dev/null 2>"$W/deploy.log" \
    || fail "deploy: $(cat "$W/deploy.log")"
grep -q "deployed [0-9a-f]*\.h5 ([0-9]* bytes) from .*: loaded in [0-9.]* s, first run [0-9.]* s before serving" "$L" \
    || fail "no warm run of the deployed bundle: $(cat "$L")"
dev --model "$W/td.h5" -o "$W/tl.jsonl" 2>"$W/dev.log" || fail "device: $(cat "$W/dev.log")"
check_lines "$W/tl.jsonl" edge >/dev/null || fail "TL results: $(cat "$W/tl.jsonl")"
metrics "$W/metrics.port" >"$W/m2.txt" || fail "metrics"
[ "$(metric "$W/m2.txt" sl_edge_cold_runs_total)" = 0 ] || fail "a cold first request: $(cat "$W/m2.txt")"
pass "the first request to a deployed model was not its first run"

# 4. The counter sees a cold run: with --no-warm the first request is the model's first run.
kill "$EDGE_PID"
mkdir -p "$W/cold.store"
cp "$W/e.h5" "$W/cold.store/"
start_edge cold 0 --no-warm --metrics 127.0.0.1:0 --metrics-port-file "$W/cold-metrics.port"
E=127.0.0.1:$EDGE_PORT
grep -q "serving e.h5 .*not run before serving" "$W/cold.log" || fail "$(cat "$W/cold.log")"
dev --model "$W/d.h5" -o "$W/cold.jsonl" 2>"$W/dev.log" || fail "device: $(cat "$W/dev.log")"
metrics "$W/cold-metrics.port" >"$W/m3.txt" || fail "metrics"
[ "$(metric "$W/m3.txt" sl_edge_cold_runs_total)" = 1 ] || fail "no cold run counted: $(cat "$W/m3.txt")"
pass "with --no-warm the first request is counted as its model's first run"
