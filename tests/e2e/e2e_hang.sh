#!/usr/bin/env bash
# e2e_hang.sh: a bundle on which libhdf5 1.10.8 loops forever (the bundle fuzzer's find,
# tests/model/fuzz_found/hdf5-vlen-attr-hang.h5) is read only in a child process with a deadline.
# - Edge "fast" (deadline 3 s): its deploy is refused once the deadline passes, with an error
#   naming the reason, and nothing is installed; `sl-preprocess inspect` refuses it the same way.
# - Edge "slow" (deadline 600 s, so the check is surely still running): meanwhile it deploys and
#   loads another bundle with HDF5 (the lock every HDF5 call shares is free) and answers a device
#   with it; when the edge is killed, its check process goes with it.
# - A bundle on which libhdf5 segfaults (hdf5-global-heap-segv.h5, H5HG_read) is refused by the
#   fast edge, which goes on: only its check process died.
# The deadline is 10 s by default; SL_BUNDLE_CHECK_SECONDS sets it here.
source "$(dirname "$0")/lib.sh"
: "${SL_SRC:?}"
HANG=$SL_SRC/tests/model/fuzz_found/hdf5-vlen-attr-hang.h5
SEGV=$SL_SRC/tests/model/fuzz_found/hdf5-global-heap-segv.h5
use_models m.h5 d.h5 e.h5
"$DATA" synth --product casting --size 32 --per-class 2 --out "$W/data" 2>/dev/null
(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$W/token")
SL_BUNDLE_CHECK_SECONDS=3 launch_edge fast
SL_BUNDLE_CHECK_SECONDS=600 launch_edge slow
SLOW_PID=$EDGE_PID
await_edge fast
FAST=127.0.0.1:$EDGE_PORT
await_edge slow
SLOW=127.0.0.1:$EDGE_PORT
deploy() { timeout 120 "$OFF" deploy --token-file "$W/token" --edge "$@"; }
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

t0=$(date +%s%N)
(
    rc=0
    deploy "$FAST" "$HANG" 2>"$W/fast-deploy.log" || rc=$?
    date +%s%N >"$W/fast.end"
    exit $rc
) &
fast_pid=$!
deploy "$SLOW" "$HANG" 2>"$W/slow-deploy.log" &
slow_pid=$!
SL_BUNDLE_CHECK_SECONDS=2 timeout 60 "$PRE" inspect "$HANG" >/dev/null 2>"$W/inspect.log" &
inspect_pid=$!

# 1. The slow edge's check is under way once the edge has a child (our own program, again);
#    meanwhile it deploys another bundle, loads it with HDF5 and answers a device with it.
for _ in $(seq 300); do
    checker=$(ps -o pid= --ppid "$SLOW_PID" | tr -d ' ' || true)
    [ -n "$checker" ] && break
    sleep 0.05
done
[ -n "$checker" ] || fail "no check process appeared under the slow edge"
deploy "$SLOW" "$W/e.h5" >"$W/deploy.json" 2>"$W/deploy.log" || fail "deploy: $(cat "$W/deploy.log")"
grep -q '"action":"uploaded"' "$W/deploy.json" || fail "deploy: $(cat "$W/deploy.json")"
timeout 120 "$OFF" device --edge "$SLOW" --token-file "$W/token" --images "$W/data" \
    --model "$W/d.h5" -o "$W/dev.jsonl" 2>"$W/dev.log" || fail "device: $(cat "$W/dev.log")"
n=$(py "$W/dev.jsonl" <<'PY'

import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
rows = [r for r in rows if "summary" not in r]
assert rows and all(r["via"] == "edge" for r in rows), rows
print(len(rows))
PY
) || fail "device results: $(cat "$W/dev.jsonl")"
kill -0 "$slow_pid" 2>/dev/null || fail "the slow edge's hang deploy ended: $(cat "$W/slow-deploy.log")"
pass "while a hang file was being checked: another bundle deployed, $n images answered ($(ms_since "$t0") ms)"

# 2. The fast edge refused it at its deadline, naming the reason; nothing was installed.
wait "$fast_pid" && fail "the hang file was deployed"
took=$((($(cat "$W/fast.end") - t0) / 1000000))
grep -q "HDF5 did not finish reading it within 3 s" "$W/fast-deploy.log" || fail "fast: $(cat "$W/fast-deploy.log")"
[ "$took" -ge 3000 ] || fail "refused after $took ms, before the 3 s deadline"
[ -z "$(ls -A "$W/fast.store")" ] || fail "store: $(ls -A "$W/fast.store")"
pass "hang deploy refused ($(cat "$W/fast-deploy.log"))"
wait "$inspect_pid" && fail "inspect succeeded on the hang file"
grep -q "HDF5 did not finish reading it within 2 s" "$W/inspect.log" || fail "inspect: $(cat "$W/inspect.log")"
pass "inspect refused it ($(cat "$W/inspect.log"))"
# Bounded: the deadlines are 2 and 3 s; the rest is this (loaded) machine starting programs.
[ "$took" -lt 30000 ] || fail "the refusal took $took ms for a 3 s deadline"

# 3. A file that crashes libhdf5 kills only the fast edge's check process.
deploy "$FAST" "$SEGV" 2>"$W/segv-deploy.log" && fail "the segfaulting file was deployed"
grep -q "reading it crashed the bundle check (signal 11), so it was not opened" "$W/segv-deploy.log" \
    || fail "segv: $(cat "$W/segv-deploy.log")"
deploy "$FAST" --list >/dev/null 2>"$W/list.log" || fail "the fast edge is gone: $(cat "$W/list.log")"
pass "a file that crashes libhdf5 refused ($(cat "$W/segv-deploy.log")); the edge goes on"
# The device side opens a file from elsewhere the same way: run and device --model refuse it.
for cmd in run device; do
    extra=()
    [ $cmd = device ] && extra=(--edge "$FAST" --token-file "$W/token")
    timeout 60 "$OFF" $cmd "${extra[@]}" --model "$SEGV" --images "$W/data" >/dev/null \
        2>"$W/$cmd-segv.log" && fail "$cmd ran the segfaulting file"
    grep -q "crashed the bundle check (signal 11)" "$W/$cmd-segv.log" || fail "$cmd: $(cat "$W/$cmd-segv.log")"
done
pass "run and device --model refuse it too ($(cat "$W/run-segv.log"))"

# 4. The killed slow edge takes its check process with it.
kill -9 "$SLOW_PID"
for _ in $(seq 100); do kill -0 "$checker" 2>/dev/null || break; sleep 0.05; done
kill -0 "$checker" 2>/dev/null && fail "the check process $checker outlived its edge"
wait "$slow_pid" 2>/dev/null && fail "the slow edge's hang deploy succeeded"
pass "the killed edge's check process is gone"
