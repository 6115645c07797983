#!/usr/bin/env bash
# page_release.sh: SL_SHIM_DROP_PAGES=1 (shim/loader.c, set by deploy/sl-device.service) takes the
# clean library pages that loading libtorch left resident out of the device process: natively,
# an idle `sl-offload device` (first image computed, waiting for an edge that does not answer)
# holds fewer file pages (RssFile) with it than without, by at least a fifth (measured: about
# 64 -> 30 MB with tinycnn's split), and its own pages (RssAnon) no more than without, plus 2 MB.
: "${SL_SRC:?}"
source "$SL_SRC/tests/e2e/lib.sh"
use_models d.h5 || fail "the models (tinycnn, split at pool1)"
"$DATA" synth --product casting --size 32 --per-class 1 --out "$W/data" 2>/dev/null || fail "synth"
(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$W/token")

# idle_kb FLAG: "RssFile RssAnon" (kB) of the idle device with SL_SHIM_DROP_PAGES=FLAG.
idle_kb() {
    : >"$W/idle$1.log"
    SL_SHIM_DROP_PAGES=$1 "$OFF" device --edge 127.0.0.1:9 --token-file "$W/token" \
        --model "$W/d.h5" --images "$W/data" --threads 1 --edge-wait 30s -o /dev/null \
        2>"$W/idle$1.log" &
    local pid=$!
    for _ in $(seq 300); do
        grep -q "image(s) to pair id" "$W/idle$1.log" && break
        kill -0 "$pid" 2>/dev/null || { cat "$W/idle$1.log" >&2; fail "the device ended"; }
        sleep 0.1
    done
    grep -q "image(s) to pair id" "$W/idle$1.log" || fail "the device did not get to its first image"
    sleep 1
    awk '/^RssFile:/ { f = $2 } /^RssAnon:/ { a = $2 } END { print f, a }' "/proc/$pid/status"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
}
read -r f0 a0 <<<"$(idle_kb 0)"
read -r f1 a1 <<<"$(idle_kb 1)"
echo "idle RssFile ${f0} -> ${f1} kB, RssAnon ${a0} -> ${a1} kB"
if [ -z "$f0" ] || [ -z "$f1" ] || [ "$f0" -le 0 ]; then fail "no RssFile read"; fi
[ $((f1 * 5)) -le $((f0 * 4)) ] || fail "SL_SHIM_DROP_PAGES=1 kept $f1 kB of file pages of $f0"
[ "$a1" -le $((a0 + 2048)) ] || fail "own pages grew with the release: $a0 -> $a1 kB"
pass "the page release takes the start-up's file pages out of the idle device"
