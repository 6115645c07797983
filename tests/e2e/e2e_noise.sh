#!/usr/bin/env bash
# e2e_noise.sh: bench/noise.sh, the noise floor under prediction checks: three local-only benches
# of a tiny model with the host probe around each; the table has a row per run, the JSON's
# summary agrees with its rows, and bad options are refused with exit 2 and a reason.
source "$(dirname "$0")/lib.sh"
make_fixtures 4
build=$(cd "$SL_BIN/.." && pwd)
noise=$SL_SRC/bench/noise.sh
"$noise" --build "$build" --model "$W/m.h5" --images "$W/data/test" --cpu 50 --limit 3 --runs 3 \
    --json "$W/noise.json" >"$W/noise.txt" 2>"$W/noise.err" || { cat "$W/noise.err"; fail "noise.sh failed"; }
[ "$(grep -c '^| [0-9]' "$W/noise.txt")" = 3 ] || { cat "$W/noise.txt"; fail "want 3 rows in the table"; }
grep -q "runs more than 10 % from the runs' median" "$W/noise.txt" || fail "no summary line"
"$SL_PYTHON" - "$W/noise.json" <<'PY' || fail "the JSON does not agree with itself"
import json, statistics as st, sys
d = json.load(open(sys.argv[1]))
assert d["format"] == "sl-noise" and d["summary"]["probe"] == "fp", d["format"]
rows, s = d["rows"], d["summary"]
med = [r["median_ms"] for r in rows]
assert [r["run"] for r in rows] == [1, 2, 3] and s["runs"] == 3
assert all(m > 0 for m in med) and s["min_ms"] == min(med) and s["max_ms"] == max(med)
assert abs(s["median_ms"] - st.median(med)) < 1e-9
assert s["runs_beyond_10pct"] == sum(abs(m / s["median_ms"] - 1) > 0.10 for m in med)
# two probes (before, after) per run, one reading per CPU this test may use
assert all(len(r["probe_ms"]) % 2 == 0 and len(r["probe_ms"]) >= 2 and min(r["probe_ms"]) > 0 for r in rows)
assert s["probe_fastest_ms"] == min(min(r["probe_ms"]) for r in rows)
PY
pass "noise.sh: 3 runs, table and JSON"
# refused(ERRFILE ARGS...): noise.sh with ARGS must exit 2; its message lands in ERRFILE.
refused() {
    local err=$1 rc=0
    shift
    "$noise" --build "$build" "$@" 2>"$err" >/dev/null || rc=$?
    [ "$rc" = 2 ] || { cat "$err"; fail "noise.sh $*: exit $rc, want 2"; }
}
refused "$W/err1.txt" --model "$W/m.h5"
grep -q "are required" "$W/err1.txt" || fail "missing --images: no reason given"
refused "$W/err2.txt" --model "$W/m.h5" --images "$W/data/test" --runs 0
grep -q "runs: '0'" "$W/err2.txt" || fail "--runs 0: the message does not name it"
refused "$W/err3.txt" --model "$W/nope.h5" --images "$W/data/test"
grep -q "nope.h5" "$W/err3.txt" || fail "a missing model: the message does not name it"
refused "$W/err4.txt" --model "$W/m.h5" --images "$W/data/test" --probe cache
grep -q "probe: 'cache'" "$W/err4.txt" || fail "--probe cache: the message does not name it"
pass "noise.sh refuses bad options"
