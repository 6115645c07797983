#!/usr/bin/env bash
# e2e_refusals.sh: what the edge refuses, each with a clear error while it keeps serving: a
# wrong token, an unknown pair id (one explicit error line per image), deploy of a non-bundle
# and of a device half; what the commands refuse at start (a short token, a half given where a
# whole model is needed, a fallback of another model); bad images (unreadable, a decompression
# bomb) as one error line each while the others are answered; and the usage errors.
source "$(dirname "$0")/lib.sh"
make_fixtures 2
N=8
serve_halves e.h5 te.h5

# 1. A wrong token: refused before any model runs, each image an error naming authentication.
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$W/bad-token"
"$OFF" device --edge "$E" --token-file "$W/bad-token" --images "$W/data" --model "$W/d.h5" \
    -o "$W/auth.jsonl" 2>"$W/auth.log" && fail "device succeeded with a wrong token"
check_lines "$W/auth.jsonl" error >/dev/null || fail "auth: bad result lines"
grep -qi "auth" "$W/auth.jsonl" || fail "auth: the error does not name authentication"
pass "wrong token: refused, every image an explicit error"

# 2. An unknown pair id (bundle removed), while the other bundle is still served.
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

# 3. Deploy refusals: not a bundle, a device half; the store is unchanged.
head -c 5000 /dev/urandom >"$W/garbage.h5"
"$OFF" deploy --edge "$E" --token-file "$W/token" "$W/garbage.h5" 2>"$W/g.log" && fail "garbage deployed"
grep -q "not a loadable edge bundle" "$W/g.log" || fail "garbage: $(cat "$W/g.log")"
"$OFF" deploy --edge "$E" --token-file "$W/token" "$W/d.h5" 2>"$W/dh.log" && fail "device half deployed"
grep -q "role 'device'" "$W/dh.log" || fail "device half: $(cat "$W/dh.log")"
"$OFF" deploy --edge "$E" --token-file "$W/token" --list | grep -c pair_id | grep -qx 1 \
    || fail "the store changed"
dev --model "$W/td.h5" -o "$W/still2.jsonl" 2>/dev/null || fail "edge stopped serving after refusals"
pass "deploy refuses a non-bundle and a device half with a clear error; the edge keeps serving"

# 4. Refused at start, before any image: a token too short to be a secret, a device half where a
#    whole model is needed, a fallback that is another model (7 classes for a 4-class pair).
printf 'abc\n' >"$W/short-token"
"$OFF" device --edge "$E" --token-file "$W/short-token" --images "$W/data" --model "$W/d.h5" \
    -o "$W/short.jsonl" 2>"$W/short.log" && fail "a 3-byte token was accepted"
grep -q "token of 3 bytes is too short" "$W/short.log" || fail "short token: $(cat "$W/short.log")"
timeout 30 "$OFF" edge --listen 127.0.0.1:0 --store "$W/edge.store" --token-file "$W/short-token" \
    2>"$W/short-edge.log" && fail "the edge started with a 3-byte token"
grep -q "too short" "$W/short-edge.log" || fail "edge short token: $(cat "$W/short-edge.log")"
chmod 644 "$W/token"
dev --model "$W/td.h5" -o "$W/mode.jsonl" 2>"$W/mode.log" || fail "a readable token file was refused"
grep -q "accessible by group or others (mode 644)" "$W/mode.log" || fail "no warning for a 0644 token file"
chmod 600 "$W/token"
"$OFF" run --model "$W/d.h5" --images "$W/data" 2>"$W/half.log" && fail "run took a device half"
grep -q "role 'device' is the device half of a split model" "$W/half.log" \
    || fail "run on a device half: $(cat "$W/half.log")"
"$PRE" zoo tinycnn --input 3x32x32 --labels ok,crack,pit,flash -o "$W/m4.h5" 2>/dev/null
"$PRE" split "$W/m4.h5" --at pool1 --device "$W/d4.h5" --edge "$W/e4.h5" >/dev/null 2>&1
"$PRE" zoo tinycnn --input 3x32x32 --labels a,b,c,d,e,f,g -o "$W/m7.h5" 2>/dev/null
"$PRE" zoo tinycnn --input 3x32x32 --classes 7 -o "$W/u7.h5" 2>/dev/null
t0=$SECONDS
dev --model "$W/d4.h5" --fallback "$W/m7.h5" -o "$W/fb7.jsonl" 2>"$W/fb7.log" \
    && fail "a 7-class fallback was accepted for a 4-class pair"
grep -q "fallback .*m7.h5 has 7 classes, .*d4.h5 has 4" "$W/fb7.log" || fail "fallback: $(cat "$W/fb7.log")"
dev --model "$W/m.h5" --fallback "$W/u7.h5" -o "$W/fb7m.jsonl" 2>"$W/fb7m.log" \
    && fail "a 7-class fallback was accepted for the 10-class edge-only model"
grep -q "gives 7 logits, .*m.h5 gives 10" "$W/fb7m.log" || fail "fallback (edge-only): $(cat "$W/fb7m.log")"
dev --model "$W/d.h5" --fallback "$W/d.h5" -o "$W/fbd.jsonl" 2>"$W/fbd.log" \
    && fail "a device half was accepted as the fallback"
grep -q "role 'device'" "$W/fbd.log" || fail "device half as fallback: $(cat "$W/fbd.log")"
[ ! -s "$W/fb7.jsonl" ] && [ ! -s "$W/fbd.jsonl" ] || fail "a refused start wrote result lines"
[ $((SECONDS - t0)) -lt 30 ] || fail "refusals at start took $((SECONDS - t0)) s"
pass "refused at start: a short token, a device half for run and as fallback, a fallback of another model"

# 5. Bad images among good ones: an unreadable file and a 1 KB PNG declaring 20000 x 20000
#    pixels (refused from its header: decoding it would take 1.2 GB). One error line each, the
#    others answered, exit code 1; run and device alike.
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
"$OFF" run --model "$W/m.h5" --images "$W/mixed" -o "$W/mixed-run.jsonl" 2>"$W/mixed-run.log" \
    && fail "run exited 0 with bad images"
dev --model "$W/td.h5" --images "$W/mixed" -o "$W/mixed-dev.jsonl" 2>"$W/mixed-dev.log" \
    && fail "device exited 0 with bad images"
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

# 6. Usage errors exit 2; --help exits 0.
for sub in edge deploy device bench; do
    "$OFF" "$sub" --help | grep -q "usage: sl-offload $sub" || fail "$sub --help"
done
"$OFF" edge --no-such-option 2>/dev/null && rc=0 || rc=$?
[ "$rc" = 2 ] || fail "edge with a bad option exited $rc"
"$OFF" deploy --edge "$E" --token-file "$W/token" --list "$W/e.h5" 2>/dev/null && rc=0 || rc=$?
[ "$rc" = 2 ] || fail "deploy with --list and a file exited $rc"
"$OFF" device --edge nohost --token-file "$W/token" --model "$W/d.h5" --images "$W/data" 2>/dev/null \
    && rc=0 || rc=$?
[ "$rc" = 2 ] || fail "device --edge without a port exited $rc"
pass "usage errors exit 2, --help exits 0"
