#!/usr/bin/env bash
# e2e_refusals.sh: what the edge refuses, each with a clear error while it keeps serving: a
# wrong token, an unknown pair id (one explicit error line per image), deploy of a non-bundle
# and of a device half; what the commands refuse at start (a short token, a half given where a
# whole model is needed); and the usage errors. The refusals whose time is bounded (a fallback
# of another model, bad images) are e2e_refusals_bounded.sh, a timing test run alone.
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
pid=$("$PRE" inspect --json "$W/e.h5" | grep -o '"pair_id":[[:space:]]*"[0-9a-f]*"' | grep -o '[0-9a-f]\{32\}')
[ -n "$pid" ] || fail "no pair id in $W/e.h5"
"$OFF" deploy --edge "$E" --token-file "$W/token" --remove "$pid" 2>/dev/null
dev --model "$W/d.h5" -o "$W/unknown.jsonl" 2>/dev/null && fail "device succeeded on a removed bundle"
check_lines "$W/unknown.jsonl" error >/dev/null || fail "unknown pair: bad result lines"
grep -q "no bundle with pair id $pid" "$W/unknown.jsonl" || fail "unknown pair: error text"
dev --model "$W/td.h5" -o "$W/still.jsonl" 2>/dev/null || fail "the other bundle is no longer served"
pass "unknown pair id: explicit errors; the TL bundle still served"

# 2b. --max-pixels: every image over the limit is refused from its header, one error line each.
dev --model "$W/td.h5" --max-pixels 100 -o "$W/pixels.jsonl" 2>/dev/null \
    && fail "device took images over --max-pixels"
check_lines "$W/pixels.jsonl" error >/dev/null || fail "--max-pixels: bad result lines"
grep -q "is over the limit of 100 pixels" "$W/pixels.jsonl" || fail "--max-pixels: error text"
pass "--max-pixels 100: every image refused from its header"

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
#    whole model is needed (as the fallback: e2e_refusals_bounded.sh).
printf 'abc\n' >"$W/short-token"
SL_SHIM_DENY=1 "$OFF" device --edge "$E" --token-file "$W/short-token" --images "$W/data" --model "$W/d.h5" \
    --threads 1 -o "$W/short.jsonl" 2>"$W/short.log" && fail "a 3-byte token was accepted"
grep -q "token of 3 bytes is too short" "$W/short.log" || fail "short token: $(cat "$W/short.log")"
SL_SHIM_DENY=1 timeout 30 "$OFF" edge --listen 127.0.0.1:0 --store "$W/edge.store" \
    --token-file "$W/short-token" 2>"$W/short-edge.log" && fail "the edge started with a 3-byte token"
grep -q "too short" "$W/short-edge.log" || fail "edge short token: $(cat "$W/short-edge.log")"
chmod 644 "$W/token"
dev --model "$W/td.h5" -o "$W/mode.jsonl" 2>"$W/mode.log" || fail "a readable token file was refused"
grep -q "accessible by group or others (mode 644)" "$W/mode.log" || fail "no warning for a 0644 token file"
chmod 600 "$W/token"
SL_SHIM_DENY=1 "$OFF" run --model "$W/d.h5" --images "$W/data" 2>"$W/half.log" && fail "run took a device half"
grep -q "role 'device' is the device half of a split model" "$W/half.log" \
    || fail "run on a device half: $(cat "$W/half.log")"
pass "refused at start, before the model runtime: a short token (device and edge), a device half for run; a 0644 token warned about"

# 5. Usage errors exit 2; --help exits 0. Like the edge's short token above, they are found before
#    the model runtime is loaded: with SL_SHIM_DENY=1, which refuses that load, they exit 2 all
#    the same.
for sub in edge deploy device bench; do
    # (to a file: grep -q on a pipe ends early, and a help text longer than one write then dies
    # of SIGPIPE, which pipefail reports as a failure)
    "$OFF" "$sub" --help >"$W/help.txt" || fail "$sub --help exited non-zero"
    grep -q "usage: sl-offload $sub" "$W/help.txt" || fail "$sub --help"
done
SL_SHIM_DENY=1 "$OFF" edge --no-such-option 2>/dev/null && rc=0 || rc=$?
[ "$rc" = 2 ] || fail "edge with a bad option exited $rc"
SL_SHIM_DENY=1 "$OFF" deploy --edge "$E" --token-file "$W/token" --list "$W/e.h5" 2>/dev/null && rc=0 || rc=$?
[ "$rc" = 2 ] || fail "deploy with --list and a file exited $rc"
SL_SHIM_DENY=1 "$OFF" device --edge nohost --token-file "$W/token" --model "$W/d.h5" \
    --images "$W/data" 2>/dev/null && rc=0 || rc=$?
[ "$rc" = 2 ] || fail "device --edge without a port exited $rc"
pass "usage errors exit 2, --help exits 0"
