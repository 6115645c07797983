# lib.sh: shared by the e2e scripts: fixtures (a tiny model, its float split, an 8-bit TL pair,
# synthetic images), an edge server on loopback, JSON checks with Debian's python.
# Sourced with SL_BIN and SL_PYTHON set (CTest sets them; exit 77 when they are missing).
set -euo pipefail
: "${SL_BIN:?}" "${SL_PYTHON:=/usr/bin/python3}"
OFF=$SL_BIN/sl-offload
PRE=$SL_BIN/sl-preprocess
DATA=$SL_BIN/sl-data
for b in "$OFF" "$PRE" "$DATA"; do
    [ -x "$b" ] || { echo "skip: $b not built"; exit 77; }
done
W=$(mktemp -d "${TMPDIR:-/tmp}/sl-e2e.XXXXXX")
EDGE_PIDS=()
cleanup() {
    for p in "${EDGE_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $* (${SECONDS}s)"; }

# make_models DIR: DIR/m.h5 (tinycnn 3x32x32), DIR/d.h5 + DIR/e.h5 (float split at pool1),
# DIR/tl.h5 (8-bit conv TL at pool2) with DIR/td.h5 + DIR/te.h5. The e2e tests share one set,
# made once per test run by e2e_models.sh (the CTest fixture e2e_models, SL_E2E_MODELS).
E2E_MODELS="m.h5 d.h5 e.h5 tl.h5 td.h5 te.h5"
make_models() {
    "$PRE" zoo tinycnn --input 3x32x32 -o "$1/m.h5" 2>/dev/null &&
        "$PRE" split "$1/m.h5" --at pool1 --device "$1/d.h5" --edge "$1/e.h5" >/dev/null 2>&1 &&
        "$PRE" insert "$1/m.h5" --at pool2 --tl conv --r 4 --s 2 --bits 8 -o "$1/tl.h5" \
            2>/dev/null &&
        "$PRE" split "$1/tl.h5" --device "$1/td.h5" --edge "$1/te.h5" >/dev/null 2>&1
}

# use_models FILE...: these of make_models' files in $W, copied from SL_E2E_MODELS when CTest's
# fixture made them there, else all made here.
use_models() {
    local f
    if [ -n "${SL_E2E_MODELS:-}" ] && [ -s "$SL_E2E_MODELS/te.h5" ]; then
        for f in "$@"; do cp "$SL_E2E_MODELS/$f" "$W/$f" || return 1; done
    else
        make_models "$W"
    fi
}

# make_fixtures [PER_CLASS]: make_models' files in $W (use_models), images in $W/data/test, a
# token in $W/token.
make_fixtures() {
    use_models $E2E_MODELS
    "$DATA" synth --product casting --size 32 --per-class "${1:-4}" --out "$W/data" 2>/dev/null
    (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$W/token")
}

# start_edge NAME [PORT] [extra options]: an edge server serving $W/NAME.store, its pid in
# EDGE_PID and appended to EDGE_PIDS, its port in EDGE_PORT, its log in $W/NAME.log.
start_edge() {
    launch_edge "$@"
    await_edge "$1"
}

# launch_edge NAME [PORT] [extra options]: start_edge without the wait, so that several edges
# load libtorch at once; await_edge NAME then waits (10 s at most) and sets EDGE_PORT.
launch_edge() {
    local name=$1 port=${2:-0}
    shift $(( $# >= 2 ? 2 : 1 ))
    rm -f "$W/$name.port"
    "$OFF" edge --listen "127.0.0.1:$port" --port-file "$W/$name.port" --store "$W/$name.store" \
        --token-file "$W/token" "$@" 2>"$W/$name.log" &
    EDGE_PID=$!
    EDGE_PIDS+=("$EDGE_PID")
}
await_edge() {
    local name=$1
    for _ in $(seq 200); do [ -s "$W/$name.port" ] && break; sleep 0.05; done
    [ -s "$W/$name.port" ] || { cat "$W/$name.log" >&2; fail "edge $name did not start"; }
    EDGE_PORT=$(cat "$W/$name.port")
}

# serve_halves FILE...: an edge (start_edge edge) serving these edge halves of $W, copied into
# $W/edge.store; its address in E (and its port in PORT).
serve_halves() {
    mkdir -p "$W/edge.store"
    local f
    for f in "$@"; do cp "$W/$f" "$W/edge.store/" || fail "cannot copy $f to the edge's store"; done
    start_edge edge
    PORT=$EDGE_PORT
    E=127.0.0.1:$PORT
}

# dev ARGS...: sl-offload device against the edge at $E with the token, on the images of $W/data.
dev() { "$OFF" device --edge "$E" --token-file "$W/token" --images "$W/data" "$@"; }

py() { "$SL_PYTHON" - "$@"; }

# check_lines FILE VIAS: $N result lines (each image once, in order) + a summary, every via in
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
