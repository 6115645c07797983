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

# make_fixtures [PER_CLASS]: $W/m.h5 (tinycnn 3x32x32), $W/d.h5 + $W/e.h5 (float split at
# pool1), $W/tl.h5 (8-bit conv TL at pool2) with $W/td.h5 + $W/te.h5, images in $W/data/test.
make_fixtures() {
    local per=${1:-4}
    "$PRE" zoo tinycnn --input 3x32x32 -o "$W/m.h5" 2>/dev/null
    "$PRE" split "$W/m.h5" --at pool1 --device "$W/d.h5" --edge "$W/e.h5" >/dev/null 2>&1
    "$PRE" insert "$W/m.h5" --at pool2 --tl conv --r 4 --s 2 --bits 8 -o "$W/tl.h5" 2>/dev/null
    "$PRE" split "$W/tl.h5" --device "$W/td.h5" --edge "$W/te.h5" >/dev/null 2>&1
    "$DATA" synth --product casting --size 32 --per-class "$per" --out "$W/data" 2>/dev/null
    (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$W/token")
}

# start_edge NAME [PORT] [extra options]: an edge server serving $W/NAME.store, its pid in
# EDGE_PID and appended to EDGE_PIDS, its port in EDGE_PORT, its log in $W/NAME.log.
start_edge() {
    local name=$1 port=${2:-0}
    shift $(( $# >= 2 ? 2 : 1 ))
    rm -f "$W/$name.port"
    "$OFF" edge --listen "127.0.0.1:$port" --port-file "$W/$name.port" --store "$W/$name.store" \
        --token-file "$W/token" "$@" 2>"$W/$name.log" &
    EDGE_PID=$!
    EDGE_PIDS+=("$EDGE_PID")
    for _ in $(seq 100); do [ -s "$W/$name.port" ] && break; sleep 0.1; done
    [ -s "$W/$name.port" ] || { cat "$W/$name.log" >&2; fail "edge $name did not start"; }
    EDGE_PORT=$(cat "$W/$name.port")
}

py() { "$SL_PYTHON" - "$@"; }
