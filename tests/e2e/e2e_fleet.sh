#!/usr/bin/env bash
# e2e_fleet.sh: a fleet on loopback (scripts/fleet.sh): HAProxy in TCP mode with health checks in
# front of 3 edges, the bundle deployed to all of them (a re-run skips them all), 6 devices at
# once through HAProxy with edge 2 killed (-9) in the middle: every image answered exactly once,
# by the fleet; a deploy while edge 2 is down exits 3 and a re-run after its restart uploads to
# it alone; edge 2 restarted: HAProxy sees it up and sends it devices again. Then one device
# given the three edges itself (--edge a,b,c) fails over when its edge dies, each line naming the
# edge that answered. Skipped (77) only when haproxy is not installed.
. "$(dirname "$0")/lib.sh"
# 3 edges and 6 devices share this machine's cores: an idle OpenMP thread that spins (libtorch's
# default, kept for the timing tests) takes a core from the others (about a third more CPU for
# this test on the 2-core machine); none of the checks here is a latency or a wall-clock bound,
# so the test runs beside others (no label timing).
export OMP_WAIT_POLICY=passive
command -v haproxy >/dev/null || { echo "skip: haproxy is not installed (apt-get install haproxy)"; exit 77; }
FLEET="$SL_SRC/scripts/fleet.sh"
F=$W/fleet
fleet_pids() { EDGE_PIDS+=($(cat "$F"/edge*.pid "$F/haproxy.pid" 2>/dev/null)); }
make_fixtures 2
# 40 images per device: the synthetic test images under new names.
mkdir "$W/imgs"
src=("$W"/data/*/*/*.png)
for k in $(seq 0 39); do ln -s "${src[$((k % ${#src[@]}))]}" "$W/imgs/$(printf %03d "$k").png"; done
NIMG=40

"$FLEET" start "$F" --edges 3 --build "$(dirname "$SL_BIN")" --bundle "$W/e.h5" >/dev/null \
    || { fleet_pids; fail "the fleet did not start"; }
fleet_pids
FRONT=127.0.0.1:$(cat "$F/port")
[ "$(grep -c '"action":"uploaded"' "$F/deploy.jsonl")" = 3 ] || fail "deploy: $(cat "$F/deploy.jsonl")"
"$OFF" deploy --fleet "$F/fleet" --token-file "$F/token" --json "$W/e.h5" >"$W/redeploy.json" \
    2>/dev/null || fail "re-deploy to the fleet failed"
py "$W/redeploy.json" <<'PY' || fail "a re-run did not skip the edges that hold the bundle"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] == 3 and d["failed"] == 0, d
assert [b["action"] for e in d["edges"] for b in e["bundles"]] == ["skipped"] * 3, d
PY
pass "the bundle deployed to 3 edges behind HAProxy; a re-run skips all three"

# check_run FILE: NIMG result lines, each index once, every one answered by an edge.
check_run() {
    py "$1" "$NIMG" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
n = int(sys.argv[2])
res = [l for l in lines if "index" in l]
idx = sorted(l["index"] for l in res)
assert idx == list(range(n)), ("indices", idx)
bad = [l for l in res if l["via"] != "edge"]
assert not bad, bad[:2]
assert lines[-1]["summary"]["edge"] == n, lines[-1]
PY
}

# 6 devices through HAProxy (two per edge by leastconn: each edge's devices are moved when it
# dies as well as with 12, each device's start costing about 1 s of CPU), edge 2 killed once a
# quarter of the images are answered.
NDEV=6
dpids=()
for i in $(seq $NDEV); do
    "$OFF" device --edge "$FRONT" --token-file "$F/token" --model "$W/d.h5" --images "$W/imgs" \
        --pipeline 2 --bandwidth 2mbit -o "$W/wave1.$i.jsonl" 2>"$W/wave1.$i.log" &
    dpids+=($!)
done
for _ in $(seq 600); do
    [ "$(cat "$W"/wave1.*.jsonl 2>/dev/null | wc -l)" -ge $((NDEV * NIMG / 4)) ] && break
    sleep 0.05
done
# What edge 2 has served when it dies (its /metrics): some of the devices are moved.
served2=$(py "$F/edge2.mport" <<'PY'
import sys, urllib.request
port = open(sys.argv[1]).read().strip()
text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
print(next(int(float(l.split()[1])) for l in text.splitlines() if l.startswith("sl_edge_requests_total ")))
PY
) || fail "edge 2's /metrics"
"$FLEET" kill-edge "$F" 2
finished=$(cat "$W"/wave1.*.jsonl | grep -c summary || true)
[ "$finished" -lt $NDEV ] || fail "every device had finished before the edge was killed"
[ "$served2" -gt 0 ] || fail "edge 2 served none of the devices before it was killed"
for i in $(seq $NDEV); do
    wait "${dpids[$((i - 1))]}" || { tail -3 "$W/wave1.$i.log"; fail "device $i exited non-zero"; }
    check_run "$W/wave1.$i.jsonl" || fail "device $i: not every image answered exactly once"
done
pass "$NDEV devices through HAProxy, edge 2 killed mid-run ($served2 requests served, $finished devices done): every image answered once"

# Deploy while edge 2 is down: a partial failure (exit 3); after its restart a re-run completes
# the fleet, uploading only to edge 2.
"$OFF" deploy --fleet "$F/fleet" --token-file "$F/token" "$W/te.h5" >"$W/partial.jsonl" \
    2>"$W/partial.log" && rc=0 || rc=$?
[ "$rc" = 3 ] || fail "deploy with edge 2 down exited $rc, not 3: $(cat "$W/partial.log")"
[ "$(grep -c '"action":"uploaded"' "$W/partial.jsonl")" = 2 ] || fail "partial: $(cat "$W/partial.jsonl")"
grep -q "$(sed -n 2p "$F/fleet"): failed" "$W/partial.log" || fail "partial: edge 2 not named"
"$FLEET" start-edge "$F" 2
fleet_pids
"$OFF" deploy --fleet "$F/fleet" --token-file "$F/token" --json "$W/te.h5" >"$W/complete.json" \
    2>/dev/null || fail "the re-run did not complete the fleet"
"$OFF" deploy --fleet "$F/fleet" --token-file "$F/token" --list >"$W/list.json" 2>"$W/list.txt" \
    || fail "--list over the fleet"
py "$W/complete.json" "$W/list.json" "$(sed -n 2p "$F/fleet")" <<'PY' || fail "the re-run or --list is wrong"
import json, sys
d = json.load(open(sys.argv[1]))
acts = {e["edge"]: e["bundles"][0]["action"] for e in d["edges"]}
assert acts.pop(sys.argv[3]) == "uploaded" and set(acts.values()) == {"skipped"}, d
l = json.load(open(sys.argv[2]))
assert l["ok"] == 3 and all(len(e["bundles"]) == 2 for e in l["edges"]), l
PY
[ "$(grep -c ' x  *x  *x *$' "$W/list.txt")" = 2 ] || fail "--list table: $(cat "$W/list.txt")"
pass "deploy with edge 2 down: exit 3, edge 2 named; after its restart a re-run uploads to it only"

# Edge 2 back on its ports: HAProxy's check sees it up, and new devices land on it. Six devices
# (two per edge by leastconn, the three edges holding no connection) show it as well as twelve.
"$FLEET" wait-up "$F" 2 || fail "HAProxy does not see the restarted edge up"
dpids=()
for i in $(seq 6); do
    "$OFF" device --edge "$FRONT" --token-file "$F/token" --model "$W/d.h5" --images "$W/imgs" \
        --pipeline 2 -o "$W/wave2.$i.jsonl" 2>"$W/wave2.$i.log" &
    dpids+=($!)
done
for i in $(seq 6); do
    wait "${dpids[$((i - 1))]}" || { tail -3 "$W/wave2.$i.log"; fail "wave 2: device $i failed"; }
    check_run "$W/wave2.$i.jsonl" || fail "wave 2: device $i"
done
"$FLEET" status "$F" >"$W/status.txt"
req2=$(awk '$1=="edge2"{for(i=1;i<=NF;i++) if ($i ~ /^requests=/) {sub("requests=","",$i); print $i}}' "$W/status.txt")
[ -n "$req2" ] && [ "$req2" -gt 0 ] || fail "the restarted edge got no requests: $(cat "$W/status.txt")"
grep -q "edge2 .*haproxy=UP" "$W/status.txt" || fail "status: $(cat "$W/status.txt")"
pass "edge 2 restarted: HAProxy sees it up and it answered $req2 requests of the next 6 devices"

# Client-side failover: the device holds the three edges' addresses; its edge dies mid-run.
E3=$(paste -sd, "$F/fleet")
"$OFF" device --edge "$E3" --token-file "$F/token" --model "$W/d.h5" --images "$W/imgs" \
    --pipeline 2 --bandwidth 2mbit -o "$W/direct.jsonl" 2>"$W/direct.log" &
dp=$!
for _ in $(seq 600); do
    [ "$(cat "$W/direct.jsonl" 2>/dev/null | wc -l)" -ge 8 ] && break
    sleep 0.05
done
"$FLEET" kill-edge "$F" 1
wait $dp || { tail -3 "$W/direct.log"; fail "the failover device exited non-zero"; }
check_run "$W/direct.jsonl" || fail "failover: not every image answered exactly once"
py "$W/direct.jsonl" "$(sed -n 1p "$F/fleet")" <<'PY' || fail "failover: the lines do not show the move"
import json, sys
res = [json.loads(l) for l in open(sys.argv[1]) if '"index"' in l]
edges = [l["edge"] for l in sorted(res, key=lambda l: l["index"])]
first = sys.argv[2]
assert edges[0] == first, (edges[0], first)
assert edges[-1] != first, edges
assert set(edges) == {first, edges[-1]}, edges
PY
pass "a device given 3 edges moves to the next when its edge dies; each line names its edge"
"$FLEET" stop "$F"
[ ! -e "$F" ] || fail "stop left $F"
pass "fleet stopped and removed"
