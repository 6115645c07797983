#!/usr/bin/env bash
# e2e_faults.sh: no image is ever lost. The edge killed mid-stream and restarted (the device
# resumes), killed for good with and without --fallback, a wrong token, an unknown pair id,
# bundles the edge must refuse on deploy, usage errors; the edge keeps serving throughout.
source "$(dirname "$0")/lib.sh"
make_fixtures 6
N=24
mkdir -p "$W/edge.store"
cp "$W/e.h5" "$W/te.h5" "$W/edge.store/"
start_edge edge
PORT=$EDGE_PORT
E=127.0.0.1:$PORT
dev() { "$OFF" device --edge "$E" --token-file "$W/token" --images "$W/data" "$@"; }

# check_lines FILE VIAS: N result lines (each image once, in order) + a summary, every via in
# VIAS, every non-edge line with an error text; prints "edge fallback error" counts.
check_lines() {
    py "$1" "$2" "$N" <<'PY'
import json, sys
path, vias, n = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3])
rows = [json.loads(l) for l in open(path)]
summary = rows.pop()["summary"]
assert len(rows) == n, f"{len(rows)} result lines for {n} images"
assert [r["index"] for r in rows] == list(range(n)), "an image is missing or repeated"
assert len({r["file"] for r in rows}) == n
count = {v: 0 for v in ("edge", "fallback", "error")}
for r in rows:
    assert r["via"] in vias, r
    count[r["via"]] += 1
    if r["via"] != "edge":
        assert r.get("error"), r
    if r["via"] != "error":
        assert r["class_index"] >= 0 and 0 < r["score"] <= 1, r
assert (summary["edge"], summary["fallback"], summary["errors"]) == (count["edge"], count["fallback"], count["error"]), summary
print(count["edge"], count["fallback"], count["error"])
PY
}

# wait_lines FILE K: until FILE has K lines (the device is mid-stream).
wait_lines() {
    for _ in $(seq 200); do [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ] && return 0; sleep 0.05; done
    fail "$1 never reached $2 lines"
}

# 1. Killed mid-stream, restarted on the same port: the device reconnects and resumes.
dev --model "$W/d.h5" --rtt 40ms -o "$W/restart.jsonl" 2>"$W/restart.log" &
DEV=$!
wait_lines "$W/restart.jsonl" 4
kill -9 "$EDGE_PID"
sleep 0.3
start_edge edge "$PORT"
wait "$DEV" && rc=0 || rc=$?
read -r ok fb err < <(check_lines "$W/restart.jsonl" edge,error) || fail "restart: bad result lines"
[ "$rc" = $((err > 0 ? 1 : 0)) ] || fail "restart: device exit code $rc with $err error(s)"
[ "$ok" -ge $((N - 2)) ] || fail "restart: only $ok of $N answered after the restart"
kill -TERM "$EDGE_PID"
wait "$EDGE_PID" || fail "edge did not stop cleanly on SIGTERM"
served=$(sed -n 's/.*stopped: .* \([0-9]*\) request(s).*/\1/p' "$W/edge.log")
[ "${served:-0}" -gt 0 ] || fail "the restarted edge served no request"
pass "edge killed after 4 images and restarted: $ok answered, $err explicit error(s), $served by the new edge"

# 2. Killed for good mid-stream with --fallback: every image answered by the edge or locally.
start_edge edge "$PORT"
dev --model "$W/d.h5" --rtt 40ms --fallback "$W/m.h5" -o "$W/fb.jsonl" 2>"$W/fb.log" &
DEV=$!
wait_lines "$W/fb.jsonl" 4
kill -9 "$EDGE_PID"
wait "$DEV" || fail "device with --fallback failed: $(tail -2 "$W/fb.log")"
read -r ok fb err < <(check_lines "$W/fb.jsonl" edge,fallback) || fail "fallback: bad result lines"
[ "$fb" -gt 0 ] && [ "$ok" -ge 4 ] || fail "fallback: $ok by the edge, $fb by the fallback"
pass "edge killed for good with --fallback: $ok by the edge, $fb by the fallback, 0 errors"

# 3. No edge and no fallback: one explicit error line per image, exit code 1, bounded time.
t0=$(date +%s)
dev --model "$W/d.h5" -o "$W/down.jsonl" 2>"$W/down.log" && fail "device succeeded without an edge"
read -r ok fb err < <(check_lines "$W/down.jsonl" error) || fail "down: bad result lines"
[ "$err" = "$N" ] || fail "down: $err errors"
grep -q "cannot connect" "$W/down.jsonl" || fail "down: the error does not say why"
[ $(( $(date +%s) - t0 )) -lt 40 ] || fail "down: took too long"
pass "no edge, no fallback: $N explicit errors, exit code 1"

# 4. A wrong token: refused before any model runs, each image an error naming authentication.
start_edge edge "$PORT"
echo wrong-token >"$W/bad-token"
"$OFF" device --edge "$E" --token-file "$W/bad-token" --images "$W/data" --model "$W/d.h5" \
    -o "$W/auth.jsonl" 2>"$W/auth.log" && fail "device succeeded with a wrong token"
check_lines "$W/auth.jsonl" error >/dev/null || fail "auth: bad result lines"
grep -qi "auth" "$W/auth.jsonl" || fail "auth: the error does not name authentication"
pass "wrong token: refused, every image an explicit error"

# 5. An unknown pair id (bundle removed), while the other bundle is still served.
pid=$(py "$W/e.h5" <<'PY'
import sys, h5py
p = h5py.File(sys.argv[1], "r").attrs["pair_id"]
print(p.decode() if isinstance(p, bytes) else p)
PY
)
"$OFF" deploy --edge "$E" --token-file "$W/token" --remove "$pid" 2>/dev/null
dev --model "$W/d.h5" -o "$W/unknown.jsonl" 2>/dev/null && fail "device succeeded on a removed bundle"
check_lines "$W/unknown.jsonl" error >/dev/null || fail "unknown pair: bad result lines"
grep -q "no bundle with pair id $pid" "$W/unknown.jsonl" || fail "unknown pair: error text"
dev --model "$W/td.h5" -o "$W/still.jsonl" 2>/dev/null || fail "the other bundle is no longer served"
pass "unknown pair id: explicit errors; the TL bundle still served"

# 6. Deploy refusals: not a bundle, a device half; the store is unchanged.
head -c 5000 /dev/urandom >"$W/garbage.h5"
"$OFF" deploy --edge "$E" --token-file "$W/token" "$W/garbage.h5" 2>"$W/g.log" && fail "garbage deployed"
grep -q "not a loadable edge bundle" "$W/g.log" || fail "garbage: $(cat "$W/g.log")"
"$OFF" deploy --edge "$E" --token-file "$W/token" "$W/d.h5" 2>"$W/dh.log" && fail "device half deployed"
grep -q "role 'device'" "$W/dh.log" || fail "device half: $(cat "$W/dh.log")"
"$OFF" deploy --edge "$E" --token-file "$W/token" --list | grep -c pair_id | grep -qx 1 \
    || fail "the store changed"
dev --model "$W/td.h5" -o "$W/still2.jsonl" 2>/dev/null || fail "edge stopped serving after refusals"
pass "deploy refuses a non-bundle and a device half with a clear error; the edge keeps serving"

# 7. Usage errors exit 2; --help exits 0.
for sub in edge deploy device bench; do
    "$OFF" "$sub" --help | grep -q "usage: sl-offload $sub" || fail "$sub --help"
    "$OFF" "$sub" --no-such-option 2>/dev/null && rc=0 || rc=$?
    [ "$rc" = 2 ] || fail "$sub with a bad option exited $rc"
done
"$OFF" device --edge nohost --token-file "$W/token" --model "$W/d.h5" --images "$W/data" 2>/dev/null \
    && rc=0 || rc=$?
[ "$rc" = 2 ] || fail "device --edge without a port exited $rc"
pass "usage errors exit 2, --help exits 0"
