#!/usr/bin/env bash
# e2e_refusals.sh: what the edge refuses, each with a clear error while it keeps serving: a
# wrong token, an unknown pair id (one explicit error line per image), deploy of a non-bundle
# and of a device half; and the commands' usage errors.
source "$(dirname "$0")/lib.sh"
make_fixtures 2
N=8
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

# 1. A wrong token: refused before any model runs, each image an error naming authentication.
echo wrong-token >"$W/bad-token"
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

# 4. Usage errors exit 2; --help exits 0.
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
