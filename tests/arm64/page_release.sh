#!/usr/bin/env bash
# page_release.sh: SL_SHIM_DROP_PAGES=1 (shim/loader.c, set by deploy/sl-device.service) takes the
# clean library pages out of the device process once libtorch is loaded and again once the first
# image is computed (offloader/device_run.c): natively, an idle `sl-offload device` (first image
# computed, waiting for an edge that does not answer) holds at most a tenth of the file pages
# (RssFile) that it holds without it (measured: 112 -> 2.5 MB with tinycnn's split; the release
# at load alone leaves about a third, 38 MB, so the bound fails when the second release stops),
# and its own pages (RssAnon) no more than without, plus 2 MB.
: "${SL_SRC:?}"
source "$SL_SRC/tests/e2e/lib.sh"
use_models d.h5 || fail "the models (tinycnn, split at pool1)"
"$DATA" synth --product casting --size 32 --per-class 1 --out "$W/data" 2>/dev/null || fail "synth"
(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$W/token")

rss() { awk '/^RssFile:/ { f = $2 } /^RssAnon:/ { a = $2 } END { print f, a }' "/proc/$1/status"; }

# start_device FLAG: an `sl-offload device` with SL_SHIM_DROP_PAGES=FLAG in DEV_PID, once it has
# opened its model (libtorch loaded, the model compiled and warmed up).
start_device() {
    : >"$W/idle$1.log"
    SL_SHIM_DROP_PAGES=$1 "$OFF" device --edge 127.0.0.1:9 --token-file "$W/token" \
        --model "$W/d.h5" --images "$W/data" --threads 1 --edge-wait 60s -o /dev/null \
        2>"$W/idle$1.log" &
    DEV_PID=$!
    for _ in $(seq 600); do
        grep -q "image(s) to pair id" "$W/idle$1.log" && return 0
        kill -0 "$DEV_PID" 2>/dev/null || { cat "$W/idle$1.log" >&2; fail "the device ended"; }
        sleep 0.1
    done
    fail "the device did not open its model in 60 s"
}
stop_device() { kill "$DEV_PID"; wait "$DEV_PID" 2>/dev/null || true; }

# Without the release: the reference, a second after the model is open (the first image of tinycnn
# takes milliseconds; what it adds to the file pages only makes the bound stricter).
start_device 0
sleep 1
read -r f0 a0 <<<"$(rss "$DEV_PID")"
stop_device
if [ -z "$f0" ] || [ "$f0" -le 0 ]; then fail "no RssFile read"; fi
# With it: the release after the first image comes at most a few seconds after the model is
# open (the image is computed, then the send fails); wait up to 30 s for the bound.
start_device 1
for _ in $(seq 60); do
    read -r f1 a1 <<<"$(rss "$DEV_PID")"
    [ $((f1 * 10)) -le "$f0" ] && break
    sleep 0.5
done
sleep 0.5
read -r f1 a1 <<<"$(rss "$DEV_PID")"
stop_device
echo "idle RssFile ${f0} -> ${f1} kB, RssAnon ${a0} -> ${a1} kB"
[ $((f1 * 10)) -le "$f0" ] || fail "SL_SHIM_DROP_PAGES=1 kept $f1 kB of file pages of $f0 (bound: a tenth)"
[ "$a1" -le $((a0 + 2048)) ] || fail "own pages grew with the release: $a0 -> $a1 kB"
pass "the page release takes the file pages out of the device after its first image"
