#!/usr/bin/env bash
# e2e_netns.sh: bench/netns.sh on a tiny model over a real veth link capped at 1 Mbit/s by tc tbf,
# the device under a CPU quota: every mode answers every image, the float split is visibly
# limited by the link (its ~10 kB per image take >= 50 ms at 1 Mbit/s) while the TL sends far
# less, and no namespace or cgroup is left behind. netns.sh probes what the machine can do and
# skips (77) only when it cannot make namespaces, veth pairs and tbf qdiscs (or without root);
# with SL_REQUIRE_NETNS=1 (.ci/run as root) a skip is a failure.
set -euo pipefail
: "${SL_BIN:?}" "${SL_SRC:?}" "${SL_PYTHON:=/usr/bin/python3}"
skip() {
    [ "${SL_REQUIRE_NETNS:-0}" = 1 ] && { echo "FAIL: SL_REQUIRE_NETNS=1, but $*"; exit 1; }
    echo "skip: $*"
    exit 77
}
[ "$(id -u)" = 0 ] || skip "needs root"
command -v ip >/dev/null && command -v tc >/dev/null || skip "no ip/tc"
leftovers() { { ip netns list 2>/dev/null | grep -cE '^sl[0-9]+-(edge|dev)' || true; } ; }
before=$(leftovers)
out=$(mktemp "${TMPDIR:-/tmp}/sl-netns-test.XXXXXX")
fx=$(mktemp -d "${TMPDIR:-/tmp}/sl-netns-test.XXXXXX")
trap 'rm -rf "$out" "$fx"' EXIT
# The models netns.sh makes without --dir (tinycnn, its float split at pool1, the 8-bit TL pair
# at pool2) are the e2e fixture's (lib.sh's make_models, the same commands), made once per
# test run: given as a pipeline folder when CTest's fixture made them. The images are the same
# too: netns.sh without --dir takes the first 8 of this synth's output.
dir=()
if [ -n "${SL_E2E_MODELS:-}" ] && [ -s "$SL_E2E_MODELS/te.h5" ]; then
    for f in m:base d:notl-device e:notl-edge td:device te:edge; do
        ln -s "$SL_E2E_MODELS/${f%%:*}.h5" "$fx/${f#*:}.h5"
    done
    "$SL_BIN/sl-data" synth --product casting --size 32 --per-class 8 --out "$fx/data/test" \
        >/dev/null 2>&1 || { echo "FAIL: sl-data synth"; exit 1; }
    dir=(--dir "$fx")
fi
rc=0
SL_PYTHON=$SL_PYTHON timeout 120 bash "$SL_SRC/bench/netns.sh" --build "$(dirname "$SL_BIN")" \
    "${dir[@]}" --limit 8 --bandwidth 1mbit --rtt 20ms --cpu 50 --json "$out" || rc=$?
[ "$rc" = 77 ] && exit 77
[ "$rc" = 0 ] || { echo "FAIL: netns.sh exited $rc"; exit 1; }
[ "$(leftovers)" = "$before" ] || { echo "FAIL: network namespaces left behind"; exit 1; }
if ls /sys/fs/cgroup/cpu /sys/fs/cgroup 2>/dev/null | grep -qE '^sl[0-9]+-device$'; then
    echo "FAIL: cgroup left behind"; exit 1
fi
"$SL_PYTHON" - "$out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
m = {r["mode"]: r for r in d["modes"]}
assert list(m) == ["local", "edge-only", "split", "split+tl"], list(m)
assert d["images"] == 8
for r in d["modes"]:
    assert r["errors"] == 0 and r["median_s"] > 0 and r["p95_s"] >= r["median_s"], r
# Local runs four times, spread over the bench; the table gives the median of the four.
runs = sorted(m["local"]["runs_median_s"])
assert len(runs) == 4 and all(v > 0 for v in runs), m["local"]
assert abs(m["local"]["median_s"] - (runs[1] + runs[2]) / 2) < 1e-12, m["local"]
for name in ("edge-only", "split", "split+tl"):
    assert m[name]["median_s"] >= 0.02, (name, "RTT missing", m[name])
assert m["split"]["bytes_up_per_image"] > 10 * m["split+tl"]["bytes_up_per_image"], m
assert m["split"]["median_s"] >= 0.05, ("the 1 Mbit/s tbf limit does not show", m["split"])
assert m["split"]["median_s"] > m["split+tl"]["median_s"], m
print("ok: real link: " + ", ".join(f"{k} {v['median_s']*1e3:.1f} ms" for k, v in m.items()))
PY
echo "ok: namespaces and cgroup removed"
