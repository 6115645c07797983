#!/usr/bin/env bash
# e2e_faults.sh: no image is ever lost when the edge goes away: killed for good with --fallback
# (the rest runs locally, after the device kept reconnecting for its --reconnect-window, 5 s
# here instead of the default 15 s) and without (one explicit error per image, exit code 1);
# restarted 2.5 s later (the device waits for it with --edge-wait and resumes); killed
# mid-stream and restarted 0.4 s later without --edge-wait (the requests lost with the
# connection are sent again: all answered by the edge, twice). Each case has an edge of its
# own, and all run at once: the test runs alone (label timing), and the fallback case's window
# is a wait that the restart cases fill.
source "$(dirname "$0")/lib.sh"
# Up to 12 of its programs run at once on two cores: an idle OpenMP thread that spins (libtorch's
# default, kept for the timing tests that measure latency) would take a core from the others;
# none of the checks here is a latency.
export OMP_WAIT_POLICY=passive
make_fixtures 6
N=24
# The reconnect window of the device of 1, in s: longer than its connect attempts without one
# (two rounds of 5, 3-4 s), shorter than the default 15 s.
WINDOW=5
# One edge per case: "gone" (1 and 2), "restart" (3), "quick1" and "quick2" (4). Case 1 waits
# out the window, the longest path: its edge starts first, and its device while the others start.
declare -A PID_OF
edge_for() {
    mkdir -p "$W/$1.store"
    cp "$W/e.h5" "$W/$1.store/"
    launch_edge "$1"
    PID_OF[$1]=$EDGE_PID
}
edge_for gone
await_edge gone
E_GONE=127.0.0.1:$EDGE_PORT

# wait_lines FILE K: until FILE has K lines (the device is mid-stream).
wait_lines() {
    for _ in $(seq 200); do [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ] && return 0; sleep 0.05; done
    fail "$1 never reached $2 lines"
}

# restart_case NAME DELAY CHECK_STOP DEVICE-OPTIONS...: a device with these options on edge NAME,
# whose edge is killed (-9) after 4 images and started again on its port DELAY s later; every
# image must be answered by the edge. With CHECK_STOP=1 the new edge must then stop cleanly on
# SIGTERM having served some of them. Run in the background: its own edges die with it.
restart_case() {
    local name=$1 delay=$2 check_stop=$3
    shift 3
    EDGE_PIDS=()
    trap 'for p in "${EDGE_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done' EXIT
    local port E dev ok fb err served
    port=$(cat "$W/$name.port")
    E=127.0.0.1:$port
    dev --model "$W/d.h5" --rtt 40ms "$@" -o "$W/$name.jsonl" 2>"$W/$name.dev.log" &
    dev=$!
    wait_lines "$W/$name.jsonl" 4
    kill -9 "${PID_OF[$name]}"
    sleep "$delay"
    start_edge "$name" "$port"
    wait "$dev" || fail "$name: device failed: $(grep -m2 '"error"' "$W/$name.jsonl"; tail -3 "$W/$name.dev.log")"
    read -r ok fb err < <(check_lines "$W/$name.jsonl" edge) \
        || fail "$name: bad result lines: $(grep -m2 '"error"' "$W/$name.jsonl")"
    [ "$ok" = "$N" ] || fail "$name: $ok of $N answered"
    kill -TERM "$EDGE_PID"
    if [ "$check_stop" = 1 ]; then
        wait "$EDGE_PID" || fail "$name: the edge did not stop cleanly on SIGTERM"
        served=$(sed -n 's/.*stopped: .* \([0-9]*\) request(s).*/\1/p' "$W/$name.log")
        [ "${served:-0}" -gt 0 ] || fail "$name: the restarted edge served no request"
        echo "$served" >"$W/$name.served"
    else
        wait "$EDGE_PID" || true
    fi
}

# 1. Killed for good mid-stream with --fallback: every image answered by the edge or locally,
#    the first fallback once the reconnect window ran out. Checked at the end.
E=$E_GONE dev --model "$W/d.h5" --rtt 40ms --fallback "$W/m.h5" --reconnect-window ${WINDOW}s \
    -o "$W/fb.jsonl" 2>"$W/fb.log" &
FB_DEV=$!
for name in restart quick1 quick2; do edge_for "$name"; done
wait_lines "$W/fb.jsonl" 4
kill -9 "${PID_OF[gone]}"

# 2. No edge and no fallback: one explicit error line per image, exit code 1, bounded time. Run
#    while the device of 1 keeps trying to reconnect (its window after the loss), on the same
#    dead port.
t0=$(date +%s)
(
    rc=0
    E=$E_GONE dev --model "$W/d.h5" -o "$W/down.jsonl" 2>"$W/down.log" || rc=$?
    echo "$rc $(( $(date +%s) - t0 ))" >"$W/down.rc"
) &
DOWN=$!

# 3. Killed mid-stream, restarted on the same port 2.5 s later (longer than one reconnect cycle):
#    with --edge-wait the device waits for it and resumes; nothing is lost or failed.
# 4. Killed mid-stream and restarted 0.4 s later, without --edge-wait: what was in flight is
#    sent again once the device has reconnected; nothing is lost. Twice, pipelined and not.
for name in restart quick1 quick2; do await_edge "$name"; done
restart_case restart 2.5 1 --edge-wait 60s &
RESTART=$!
restart_case quick1 0.4 0 --pipeline 1 &
QUICK1=$!
restart_case quick2 0.4 0 --pipeline 2 &
QUICK2=$!

wait "$RESTART" || fail "the restart case failed"
pass "edge killed after 4 images, back 2.5 s later: all $N answered, $(cat "$W/restart.served") by the new edge"
wait "$QUICK1" && wait "$QUICK2" || fail "a quick restart case failed"
pass "edge killed after 4 images, back 0.4 s later, no --edge-wait: all $N answered, twice"

wait "$FB_DEV" || fail "device with --fallback failed: $(tail -2 "$W/fb.log")"
read -r ok fb err < <(check_lines "$W/fb.jsonl" edge,fallback) || fail "fallback: bad result lines"
[ "$fb" -gt 0 ] && [ "$ok" -ge 4 ] || fail "fallback: $ok by the edge, $fb by the fallback"
# The image the loss caught fell back only once the window had run out: it took about the
# window, and less than the default window of 15 s. Its time starts when it is handed to the
# client; when the edge dies between two images the reader notices the loss first, so the next
# image starts up to one image's device time (a few ms here) into the window: 0.5 s of slack.
waited=$(py "$W/fb.jsonl" "$WINDOW" <<'PY'
import json, sys
window = float(sys.argv[2])
rows = [json.loads(l) for l in open(sys.argv[1])][:-1]
t = next(r for r in rows if r["via"] == "fallback")["timing"]["total_s"]
assert window - 0.5 <= t < 15, f"the first fallback came {t:.1f} s after its image started"
print(round(t, 1))
PY
) || fail "fallback: the reconnecting did not last the --reconnect-window of $WINDOW s"
pass "edge killed for good with --fallback: $ok by the edge, $fb by the fallback, 0 errors;" \
    "the first fallback ${waited} s after its image started (window $WINDOW s)"

wait "$DOWN" || true
read -r rc took <"$W/down.rc" || fail "down: the device did not finish"
[ "$rc" != 0 ] || fail "device succeeded without an edge"
read -r ok fb err < <(check_lines "$W/down.jsonl" error) || fail "down: bad result lines"
[ "$err" = "$N" ] || fail "down: $err errors"
grep -q "cannot connect" "$W/down.jsonl" || fail "down: the error does not say why"
[ "$took" -lt 40 ] || fail "down: took too long ($took s)"
pass "no edge, no fallback: $N explicit errors, exit code 1, in $took s"
