#!/usr/bin/env bash
# e2e_refusals_bounded.sh: refusals that must come fast, in bounded time (label timing, run
# alone): a fallback that is another model (7 classes for a 4-class pair, 7 logits for a
# 10-class edge-only model) or a device half, refused at start before any image; bad images
# (unreadable, a decompression bomb) as one error line each while the others are answered, by
# run and by device. The other refusals are e2e_refusals.sh.
source "$(dirname "$0")/lib.sh"
make_fixtures 2
# The models of 1 are made while the edge starts: the test runs alone, so both cores are free.
(
    "$PRE" zoo tinycnn --input 3x32x32 --labels ok,crack,pit,flash -o "$W/m4.h5" 2>/dev/null &&
        "$PRE" split "$W/m4.h5" --at pool1 --device "$W/d4.h5" --edge "$W/e4.h5" >/dev/null 2>&1
) &
m4=$!
"$PRE" zoo tinycnn --input 3x32x32 --labels a,b,c,d,e,f,g -o "$W/m7.h5" 2>/dev/null &
m7=$!
"$PRE" zoo tinycnn --input 3x32x32 --classes 7 -o "$W/u7.h5" 2>/dev/null &
u7=$!
serve_halves te.h5
wait $m4 && wait $m7 && wait $u7 || fail "the 4- and 7-class models were not made"

# 1. Refused at start, before any image, within a bound: a fallback that is another model, a
#    device half as the fallback.
#    The three devices start at once.
t0=$SECONDS
dev --model "$W/d4.h5" --fallback "$W/m7.h5" -o "$W/fb7.jsonl" 2>"$W/fb7.log" &
fb7=$!
dev --model "$W/m.h5" --fallback "$W/u7.h5" -o "$W/fb7m.jsonl" 2>"$W/fb7m.log" &
fb7m=$!
dev --model "$W/d.h5" --fallback "$W/d.h5" -o "$W/fbd.jsonl" 2>"$W/fbd.log" &
fbd=$!
wait $fb7 && fail "a 7-class fallback was accepted for a 4-class pair"
grep -q "fallback .*m7.h5 has 7 classes, .*d4.h5 has 4" "$W/fb7.log" || fail "fallback: $(cat "$W/fb7.log")"
wait $fb7m && fail "a 7-class fallback was accepted for the 10-class edge-only model"
grep -q "gives 7 logits, .*m.h5 gives 10" "$W/fb7m.log" || fail "fallback (edge-only): $(cat "$W/fb7m.log")"
wait $fbd && fail "a device half was accepted as the fallback"
grep -q "role 'device'" "$W/fbd.log" || fail "device half as fallback: $(cat "$W/fbd.log")"
[ ! -s "$W/fb7.jsonl" ] && [ ! -s "$W/fbd.jsonl" ] || fail "a refused start wrote result lines"
[ $((SECONDS - t0)) -lt 30 ] || fail "refusals at start took $((SECONDS - t0)) s"
pass "refused at start: a fallback of another model, a device half as the fallback"

# 2. Bad images among good ones: an unreadable file and a 1 KB PNG declaring 20000 x 20000
#    pixels (refused from its header: decoding it would take 1.2 GB). One error line each, the
#    others answered, exit code 1; run and device alike, at once.
mkdir -p "$W/mixed"
cp "$(find "$W/data" -name '*.png' | sort | head -1)" "$W/mixed/a_good.png"
head -c 300 /dev/urandom >"$W/mixed/b_corrupt.png"
py "$W/mixed/c_bomb.png" <<'PY'
import struct, sys, zlib
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
rows = zlib.compress(b"\0" * (1 + 3 * 20000) * 16, 9)  # the first 16 rows; the rest missing
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0))
open(sys.argv[1], "wb").write(png + chunk(b"IDAT", rows) + chunk(b"IEND", b""))
PY
cp "$W/mixed/a_good.png" "$W/mixed/d_good.png"
t0=$SECONDS
"$OFF" run --model "$W/m.h5" --images "$W/mixed" -o "$W/mixed-run.jsonl" 2>"$W/mixed-run.log" &
run=$!
dev --model "$W/td.h5" --images "$W/mixed" -o "$W/mixed-dev.jsonl" 2>"$W/mixed-dev.log" &
mdev=$!
wait $run && fail "run exited 0 with bad images"
wait $mdev && fail "device exited 0 with bad images"
[ $((SECONDS - t0)) -lt 30 ] || fail "bad images took $((SECONDS - t0)) s"
for f in run dev; do
    py "$W/mixed-$f.jsonl" <<'PY' || fail "mixed images ($f): $(cat "$W/mixed-$f.jsonl")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
rows = [r for r in rows if "summary" not in r]
assert [r["index"] for r in rows] == [0, 1, 2, 3], rows
good = [r for r in rows if "class_index" in r and r.get("via", "edge") != "error"]
assert [r["file"].rsplit("/", 1)[1] for r in good] == ["a_good.png", "d_good.png"], rows
bad = {r["file"].rsplit("/", 1)[1]: r["error"] for r in rows if r not in good}
assert "not an image file" in bad["b_corrupt.png"], bad
assert "20000x20000 = 400000000 pixels is over the limit" in bad["c_bomb.png"], bad
PY
done
[ "$(grep -c 'c_bomb.png' "$W/mixed-run.log")" -ge 1 ] || fail "run: no error line for the bomb"
pass "bad images: one error line each (corrupt, 20000x20000 bomb), the others answered, exit 1"
