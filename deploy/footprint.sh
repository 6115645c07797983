#!/usr/bin/env bash
# footprint.sh [--native BUILD] [--arm64 BUILD] [--images N]: what the device side costs, for
# the native build and the arm64 build (`make device-arm64`, run under qemu-user): the size of
# sl-offload and lib/libsl_torch.so, their shared-library dependencies, and the resident memory
# of `sl-offload device` (tinycnn's float split; a native edge on loopback):
#   start    `sl-offload --version`: the program and its direct libraries, no libtorch
#            (max RSS, GNU time);
#   idle     the model loaded and its first image computed, waiting for an edge that does not
#            answer (--edge-wait 60s against a closed port): VmRSS once it has not moved by
#            more than 1 MB for 2 s, and what it is made of (from /proc/PID/smaps): pages of
#            mapped files (programs and libraries), anonymous memory (heap, stacks, libtorch's
#            allocations), and under qemu its translated-code cache (its one rwx mapping);
#   run      N images through the live edge: max RSS of the whole run (GNU time).
# Under qemu-user the RSS is qemu's: the arm64 program's pages plus the emulator and its
# translated-code cache, so it is indicative (an upper bound), not the figure of a real board.
# Prints a markdown table on stdout. Needs the native build's sl-offload, sl-preprocess and
# sl-data (for the fixtures and the edge) and, for the arm64 rows, qemu-aarch64.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
NATIVE=$SRC/build
ARM64=$SRC/build-arm64
N=32
while [ $# -gt 0 ]; do
    case $1 in
    --native) NATIVE=$(realpath "$2"); shift 2 ;;
    --arm64) ARM64=$(realpath "$2"); shift 2 ;;
    --images) N=$2; shift 2 ;;
    *) echo "usage: $0 [--native BUILD] [--arm64 BUILD] [--images N]" >&2; exit 2 ;;
    esac
done
export SL_BIN=$NATIVE/bin SL_PYTHON=/usr/bin/python3
source "$SRC/tests/e2e/lib.sh"
[ -x /usr/bin/time ] || fail "GNU time (/usr/bin/time, Debian package time) is needed"

per=$(( (N + 3) / 4 ))
make_fixtures "$per"
start_edge edge
"$OFF" deploy --edge "127.0.0.1:$EDGE_PORT" --token-file "$W/token" "$W/e.h5" >/dev/null

mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
size_mb() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.2f", b / 1048576 }'; }

# idle_rss PID: "VmRSS files anon rwx" (kB) once VmRSS is stable, or fails after 180 s.
idle_rss() {
    local pid=$1 last=-1 same=0 kb
    for _ in $(seq 360); do
        kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) \
            || fail "the device process ended before it was idle"
        if [ "$last" -ge 0 ] && [ $((kb - last)) -le 1024 ] && [ $((last - kb)) -le 1024 ]; then
            same=$((same + 1))
            [ $same -ge 4 ] && [ -s "$W/idle.log" ] && grep -q "image(s) to pair id" "$W/idle.log" \
                && { echo "$kb $(smaps_split "$pid")"; return; }
        else
            same=0
        fi
        last=$kb
        sleep 0.5
    done
    fail "the device process did not settle in 180 s"
}

# smaps_split PID: the resident kB of file mappings, anonymous ones, and rwx anonymous ones.
smaps_split() {
    awk '/^[0-9a-f]+-[0-9a-f]+ / { perm = $2; file = $6 }
         /^Rss:/ { if (file ~ /^\//) f += $2; else if (perm ~ /rwx/) x += $2; else a += $2 }
         END { print f + 0, a + 0, x + 0 }' "/proc/$1/smaps"
}

# measure NAME RUNNER...: one row; RUNNER... is the command prefix that runs an sl-offload.
measure() {
    local name=$1 bin=$2 lib=$3
    shift 3
    local start idle run t0 wall ifile ianon irwx
    /usr/bin/time -f %M -o "$W/start.kb" "$@" --version >/dev/null
    start=$(tail -1 "$W/start.kb")
    : >"$W/idle.log"
    "$@" device --edge 127.0.0.1:9 --token-file "$W/token" --model "$W/d.h5" \
        --images "$W/data" --edge-wait 60s -o /dev/null 2>"$W/idle.log" &
    local pid=$!
    local parts
    read -r idle parts <<<"$(idle_rss "$pid")"
    read -r ifile ianon irwx <<<"$parts"
    [ -n "$irwx" ] || fail "$name: no idle measurement (see above)"
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
    t0=$(date +%s.%N)
    /usr/bin/time -f %M -o "$W/run.kb" "$@" device --edge "127.0.0.1:$EDGE_PORT" \
        --token-file "$W/token" --model "$W/d.h5" --images "$W/data" -o "$W/run.jsonl" \
        2>"$W/run.log" || { cat "$W/run.log" >&2; fail "$name: device run"; }
    wall=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    run=$(tail -1 "$W/run.kb")
    IMAGES=$(sed -n 's/.* \([0-9][0-9]*\) image(s): \1 by the edge, 0 by the fallback, 0 error.*/\1/p' \
        "$W/run.log")
    [ -n "$IMAGES" ] || { cat "$W/run.log" >&2; fail "$name: not every image answered by the edge"; }
    printf '| %s | %s | %s | %s | %s | %s / %s / %s | %s | %s |\n' "$name" "$(size_mb "$bin")" \
        "$(size_mb "$lib")" "$(mb "$start")" "$(mb "$idle")" "$(mb "$ifile")" "$(mb "$ianon")" \
        "$(mb "$irwx")" "$(mb "$run")" "$wall"
}

echo "| build | sl-offload MB | libsl_torch.so MB | start RSS MB | idle RSS MB | idle: files / anon / rwx MB | run max RSS MB | run wall s |"
echo "|---|---|---|---|---|---|---|---|"
measure "native x86-64" "$NATIVE/bin/sl-offload" "$NATIVE/lib/libsl_torch.so" "$NATIVE/bin/sl-offload"
QEMU=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
SYSROOT=$(sed -n 's/^SL_ARM64_SYSROOT:PATH=//p' "$ARM64/CMakeCache.txt" 2>/dev/null || true)
if [ -n "$QEMU" ] && [ -x "$ARM64/bin/sl-offload" ] && [ -n "$SYSROOT" ]; then
    measure "arm64 under qemu-user" "$ARM64/bin/sl-offload" "$ARM64/lib/libsl_torch.so" \
        "$QEMU" -L "$SYSROOT" "$ARM64/bin/sl-offload"
    ldso() { "$QEMU" -L "$SYSROOT" "$SYSROOT/lib/ld-linux-aarch64.so.1" --list "$1"; }
else
    echo "(no arm64 row: qemu-aarch64 or the arm64 build in $ARM64 is missing)"
    ldso() { :; }
fi

# Shared libraries: direct (DT_NEEDED) of sl-offload, and everything libsl_torch.so loads.
deps() {
    local name=$1 bin=$2 lib=$3 list
    shift 3
    list=$("$@" "$lib" | awk '/=>/ { print $3 }')
    local total=0 f
    for f in $list; do
        [ -n "${SYSROOT:-}" ] && [ ! -e "$f" ] && f=$SYSROOT$f
        total=$((total + $(stat -L -c %s "$f")))
    done
    echo "$name: sl-offload needs" \
        "$(readelf -d "$bin" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')"
    echo "$name: libsl_torch.so loads $(echo "$list" | wc -w) shared libraries," \
        "$(awk -v b=$total 'BEGIN { printf "%.0f", b / 1048576 }') MB on disk"
}
echo
deps "native x86-64" "$NATIVE/bin/sl-offload" "$NATIVE/lib/libsl_torch.so" ldd
if [ -n "$QEMU" ] && [ -x "$ARM64/bin/sl-offload" ] && [ -n "$SYSROOT" ]; then
    deps "arm64" "$ARM64/bin/sl-offload" "$ARM64/lib/libsl_torch.so" ldso
fi
echo
echo "run: $IMAGES images of tinycnn's float split (device half to pool1) each"
echo "load: $(uptime)"
