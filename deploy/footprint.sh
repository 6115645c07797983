#!/usr/bin/env bash
# footprint.sh [--native BUILD] [--arm64 BUILD] [--images N]: what the device side costs, for
# the native build and the arm64 build (`make device-arm64`, run under qemu-user): the size of
# sl-offload and lib/libsl_torch.so, their shared-library dependencies, and the resident memory
# and start-up time of `sl-offload device` (tinycnn's float split; a native edge on loopback),
# each build without the empty stand-ins of BUILD/lib/torch-stubs ("plain": SL_TORCH_STUBS=0),
# with them ("stand-ins": as built, the shim's loader loads them before libtorch when the folder
# exists; cmake/torch-stubs.py, shim/loader.c), and as deploy/sl-device.service runs it ("slim":
# the stand-ins and SL_SHIM_DROP_PAGES=1, which unmaps the library pages that loading libtorch
# left resident, shim/loader.c):
#   start    `sl-offload --version`: the program and its direct libraries, no libtorch
#            (max RSS, GNU time);
#   ready    seconds from the start of `sl-offload device` until the device half of its first
#            image is computed (libtorch loaded, model compiled and run once): the start-up time;
#   idle     then, waiting for an edge that does not answer (--edge-wait 60s against a closed
#            port): VmRSS (/proc/PID/status: what top and ps show as RES/RSS, the figure of the
#            100 MB target) once it has not moved by more than 1 MB for 2 s, its PSS, and what it
#            is made of (from /proc/PID/smaps): clean pages of mapped files (programs' and
#            libraries' code and read-only data: shared with every process that maps the same
#            files, and dropped by the kernel under memory pressure, to be read again from the
#            file when used), the process's own pages (private dirty: heap, stacks, libraries'
#            relocated data; only swap can take those from it), and under qemu its
#            translated-code cache (its one rwx mapping);
#   run      N images through the live edge: max RSS of the whole run (GNU time) and wall time.
#   working set   of a longer run through the live edge, once 10 images are answered: the
#            pages that the process touches (smaps "Referenced", after clearing the bits through
#            /proc/PID/clear_refs) while it answers 10 more: what classifying needs resident,
#            split into mapped files and the process's own pages (qemu's code cache apart).
# Under qemu-user the RSS is qemu's: the arm64 program's pages plus the emulator and its
# translated-code cache, so it is indicative (an upper bound), not the figure of a real board.
# Prints a markdown table on stdout. Needs the native build's sl-offload, sl-preprocess and
# sl-data (for the fixtures and the edge) and, for the arm64 rows, qemu-aarch64 and proot; the
# "stand-ins" and "slim" rows
# need BUILD/lib/torch-stubs (the native build makes it; make device-arm64 for the arm64 build).
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

# idle_rss PID: "VmRSS Pss files own rwx" (kB) once VmRSS is stable, or fails after 180 s.
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

# smaps_split PID: "Pss files own rwx" (kB): the PSS; the clean pages of mapped files; the
# process's own (private dirty) pages but qemu's code cache; the resident rwx anonymous pages
# (qemu's translated code).
smaps_split() {
    awk '/^[0-9a-f]+-[0-9a-f]+ / { perm = $2; file = $6 }
         /^Pss:/ { p += $2 }
         /^Rss:/ { if (file !~ /^\// && perm ~ /rwx/) x += $2 }
         /^(Shared|Private)_Clean:/ { if (file ~ /^\//) f += $2 }
         /^(Shared|Private)_Dirty:/ { if (file ~ /^\// || perm !~ /rwx/) o += $2 }
         END { print p + 0, f + 0, o + 0, x + 0 }' "/proc/$1/smaps"
}

# measure NAME BIN LIB SLIM RUNNER...: one row; RUNNER... is the command prefix that runs an
# sl-offload; SLIM is 0 without the stand-ins (SL_TORCH_STUBS=0), 1 with those of LIB's folder
# (as built), 2 for the deployed environment (the stand-ins and SL_SHIM_DROP_PAGES=1, as
# deploy/sl-device.service).
measure() {
    local name=$1 bin=$2 lib=$3 slim=$4
    shift 4
    local -a envv=(env SL_TORCH_STUBS=0)
    if [ "$slim" -ge 1 ]; then
        [ -d "$(dirname "$lib")/torch-stubs" ] \
            || { echo "(no $name row: $(dirname "$lib")/torch-stubs not made)"; return; }
        envv=(env)
    fi
    [ "$slim" = 2 ] && envv+=(SL_SHIM_DROP_PAGES=1)
    local start idle run t0 wall ready pss ifile iown irwx
    "${envv[@]}" /usr/bin/time -f %M -o "$W/start.kb" "$@" --version >/dev/null
    start=$(tail -1 "$W/start.kb")
    : >"$W/idle.log"
    t0=$(date +%s.%N)
    "${envv[@]}" "$@" device --edge 127.0.0.1:9 --token-file "$W/token" --model "$W/d.h5" \
        --images "$W/data" --edge-wait 60s -o /dev/null 2>"$W/idle.log" &
    local pid=$! top=$!
    for _ in $(seq 1800); do
        grep -q "image(s) to pair id" "$W/idle.log" && break
        kill -0 "$pid" 2>/dev/null || { cat "$W/idle.log" >&2; fail "$name: device ended"; }
        sleep 0.1
    done
    ready=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    # Under proot the device is proot's child (qemu running sl-offload).
    if [ "$(cat "/proc/$pid/comm")" = proot ]; then
        pid=$(pgrep -P "$pid" | head -1)
        [ -n "$pid" ] || fail "$name: no process under proot"
    fi
    local parts
    read -r idle parts <<<"$(idle_rss "$pid")"
    read -r pss ifile iown irwx <<<"$parts"
    [ -n "$irwx" ] || fail "$name: no idle measurement (see above)"
    kill "$pid" 2>/dev/null; wait "$top" 2>/dev/null || true
    t0=$(date +%s.%N)
    "${envv[@]}" /usr/bin/time -f %M -o "$W/run.kb" "$@" device --edge "127.0.0.1:$EDGE_PORT" \
        --token-file "$W/token" --model "$W/d.h5" --images "$W/data" -o "$W/run.jsonl" \
        2>"$W/run.log" || { cat "$W/run.log" >&2; fail "$name: device run"; }
    wall=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    run=$(tail -1 "$W/run.kb")
    IMAGES=$(sed -n 's/.* \([0-9][0-9]*\) image(s): \1 by the edge, 0 by the fallback, 0 error.*/\1/p' \
        "$W/run.log")
    [ -n "$IMAGES" ] || { cat "$W/run.log" >&2; fail "$name: not every image answered by the edge"; }
    local ws
    ws=$(working_set "$@")
    printf '| %s | %s | %s | %s | %s | %s | %s | %s / %s / %s | %s | %s | %s |\n' "$name" \
        "$(size_mb "$bin")" "$(size_mb "$lib")" "$(mb "$start")" "$ready" "$(mb "$idle")" \
        "$(mb "$pss")" "$(mb "$ifile")" "$(mb "$iown")" "$(mb "$irwx")" "$(mb "$run")" "$wall" \
        "$ws"
}

# working_set RUNNER...: "files / own MB" that the device touches while it answers 10 images,
# in a run of $W/ws_data through the live edge (started with the same environment as the
# caller's, envv).
working_set() {
    : >"$W/ws.jsonl"
    "${envv[@]}" "$@" device --edge "127.0.0.1:$EDGE_PORT" --token-file "$W/token" \
        --model "$W/d.h5" --images "$W/ws_data" -o "$W/ws.jsonl" 2>"$W/ws.log" &
    local pid=$! top=$! n0 f o
    wait_lines() {
        for _ in $(seq 3000); do
            [ "$(wc -l <"$W/ws.jsonl")" -ge "$1" ] && return 0
            kill -0 "$top" 2>/dev/null || return 1
            sleep 0.1
        done
        return 1
    }
    wait_lines 10 || { cat "$W/ws.log" >&2; fail "working set: the run did not get going"; }
    if [ "$(cat "/proc/$pid/comm")" = proot ]; then pid=$(pgrep -P "$pid" | head -1); fi
    echo 1 >"/proc/$pid/clear_refs"
    n0=$(wc -l <"$W/ws.jsonl")
    wait_lines $((n0 + 10)) || { cat "$W/ws.log" >&2; fail "working set: the run ended early"; }
    read -r f o <<<"$(awk '/^[0-9a-f]+-[0-9a-f]+ / { perm = $2; file = $6 }
        /^Referenced:/ { if (file ~ /^\//) f += $2; else if (perm !~ /rwx/) o += $2 }
        END { print f + 0, o + 0 }' "/proc/$pid/smaps")"
    kill "$pid" 2>/dev/null; wait "$top" 2>/dev/null || true
    echo "$(mb "$f") / $(mb "$o")"
}

"$DATA" synth --product casting --size 32 --per-class 100 --out "$W/ws_data" 2>/dev/null
echo "| build | sl-offload MB | libsl_torch.so MB | start RSS MB | ready s | idle RSS MB | idle PSS MB | idle: file clean / own / qemu code MB | run max RSS MB | run wall s | working set: files / own MB |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
tags=(plain stand-ins slim)
for slim in 0 1 2; do
    tag=${tags[$slim]}
    measure "native x86-64, $tag" "$NATIVE/bin/sl-offload" "$NATIVE/lib/libsl_torch.so" $slim \
        "$NATIVE/bin/sl-offload"
done
QEMU=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
SYSROOT=$(sed -n 's/^SL_ARM64_SYSROOT:PATH=//p' "$ARM64/CMakeCache.txt" 2>/dev/null || true)
if [ -n "$QEMU" ] && command -v proot >/dev/null && [ -x "$ARM64/bin/sl-offload" ] &&
    [ -n "$SYSROOT" ]; then
    # The mount points, made beforehand so that PRoot does not make and remove them in the
    # shared sysroot under another PRoot's feet (tests/arm64/lib.sh says why).
    mkdir -p "$SYSROOT/dev" "$SYSROOT/proc" "$SYSROOT/sys" "$SYSROOT/host-rootfs" "$SYSROOT$ARM64"
    for slim in 0 1 2; do
        tag=${tags[$slim]}
        # proot starts the program's own children (its model check) through qemu as well.
        measure "arm64 under qemu-user, $tag" "$ARM64/bin/sl-offload" \
            "$ARM64/lib/libsl_torch.so" $slim proot -q "$QEMU" -r "$SYSROOT" -b /proc -b /dev \
            -b /sys -b "$ARM64" -b "$W" "$ARM64/bin/sl-offload"
    done
    ldso() { "$QEMU" -L "$SYSROOT" "$SYSROOT/lib/ld-linux-aarch64.so.1" --list "$1"; }
else
    echo "(no arm64 row: qemu-aarch64, proot or the arm64 build in $ARM64 is missing)"
    ldso() { :; }
fi
# Shared libraries: direct (DT_NEEDED) of sl-offload, and everything libsl_torch.so loads, as
# built and with the stand-ins (which ldd sees when they are first on LD_LIBRARY_PATH: the same
# libraries as the loader's loading them first).
deps() {
    local name=$1 bin=$2 lib=$3 list slim=""
    shift 3
    list=$("$@" "$lib" | awk '/=>/ { print $3 }')
    local total=0 f
    for f in $list; do
        [ -n "${SYSROOT:-}" ] && [ ! -e "$f" ] && f=$SYSROOT$f
        total=$((total + $(stat -L -c %s "$f")))
    done
    if [ -d "$(dirname "$lib")/torch-stubs" ]; then
        slim=$(LD_LIBRARY_PATH="$(dirname "$lib")/torch-stubs" "$@" "$lib" \
            | awk '/=>/ && !/torch-stubs/' | wc -l)
        slim=" ($slim with the stand-ins of lib/torch-stubs)"
    fi
    echo "$name: sl-offload needs" \
        "$(readelf -d "$bin" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')"
    echo "$name: libsl_torch.so loads $(echo "$list" | wc -w) shared libraries," \
        "$(awk -v b=$total 'BEGIN { printf "%.0f", b / 1048576 }') MB on disk$slim"
}
echo
deps "native x86-64" "$NATIVE/bin/sl-offload" "$NATIVE/lib/libsl_torch.so" ldd
if [ -n "$QEMU" ] && [ -x "$ARM64/bin/sl-offload" ] && [ -n "$SYSROOT" ]; then
    deps "arm64" "$ARM64/bin/sl-offload" "$ARM64/lib/libsl_torch.so" ldso
fi
echo
echo "run: $IMAGES images of tinycnn's float split (device half to pool1) each"
echo "load: $(uptime)"
