#!/bin/bash
# test_select_cli.sh: `sl-preprocess select` end to end on the hand-made profiles in data/:
# ranked text, plan.json, SVG chart, three tiers, DADS, and exit codes and messages for bad
# profiles, networks and constraints.
set -u
. "$SL_SRC/tests/preprocessor/cli_lib.sh"
DATA="$SL_SRC/tests/preprocessor/data"

DEV="--device $DATA/device.json"
EDGE="--edge $DATA/edge.json"
NET="--bandwidth 10mbit --rtt 20ms"

# Each run loads libtorch (about a second on a busy machine), so runs are few and each checks
# several things; the C tests cover every criterion and profile error in detail.
has() { # has NEEDLE: the last run's output holds NEEDLE
    check "output has: $1" grep -qF -- "$1" out.txt err.txt
}

expect 0 "usage: sl-preprocess select" select --help

expect 0 "  1. 115.5 ms - 50.0 kB - device 0-1, edge 2-3 [cut maxpool, TL pool]" select \
    $DEV $EDGE $NET --versus --dads --throughput -o plan.json --plot plan.svg
has "  2. 146.3 ms - 150.0 kB - edge 0-3 [edge-only: raw image]"
has "best without TL: 146.3 ms"
has "maxpool                    234.4 ms   200.0 kB    115.5 ms    50.0 kB  pool              2.03x"
has "DADS min cut (latency): 146.3 ms"
check "plan.json names the best cut and TL" "$PY" -c '
import json; p = json.load(open("plan.json"))
assert p["format"] == "sl-plan" and p["version"] == 1, p["format"]
b = p["best"]
assert b["cut"]["tensor"] == "maxpool" and b["tl"] == "pool", b
assert abs(b["latency_s"]["total"] - 0.11555) < 1e-9
assert p["best_without_tl"]["cut"]["kind"] == "edge-only"
assert len(p["plans"]) == 5 and len(p["per_cut"]) == 4
assert p["per_cut"][1]["with_tl"]["tl"] == "pool"
assert p["dads"]["cut_tensors"][0]["raw_image"] is True
assert p["dads_throughput"]["mode"] == "throughput"
'
check "plan.svg parses as XML" "$PY" -c 'import xml.dom.minidom as m; m.parse("plan.svg")'
check "plan.svg legend" grep -q "transfer (codec + serialise + RTT + wire)" plan.svg
check "plan.svg best mark" grep -q ">best<" plan.svg

expect 0 '"format":	"sl-plan"' select $DEV $EDGE $NET --json --top 2
check "--json --top 2 lists two plans" "$PY" -c '
import json; p = json.load(open("out.txt")); assert len(p["plans"]) == 2'

# Three tiers from Scission's CSV.
expect 0 "13 plans, 13 allowed" select $DEV $EDGE --cloud "$DATA/cloud.json" --network "$DATA/net.csv"
has "122.3 ms - 50.0 kB - device 0-1, cloud 2-3 [cut maxpool, TL pool]"

# Constraints.
expect 0 "  1. 155.0 ms - 0 B - device 0-3 [local-only]" select $DEV $EDGE $NET --device-only conv2 \
    --max-time device:0.2s
expect 1 "'--max-upload 0.01MB' rules out 4; '--exclude-tier device' rules out 4" select \
    $DEV $EDGE $NET --max-upload 0.01MB --exclude-tier device
expect 2 "sl-preprocess: select: criterion '--not-on conv1': expected TIER:NODE" select \
    $DEV $EDGE $NET --not-on conv1
expect 2 "criterion '--device-only conv9': no node named 'conv9'" select $DEV $EDGE $NET --device-only conv9

# Bad profiles and networks.
expect 1 "describe different models" select $DEV --edge "$DATA/other-model.json" $NET
expect 1 "no edge->cloud hop" select $DEV $EDGE --cloud "$DATA/cloud.json" --network "$DATA/net-no-cloud.csv"
head -c 700 "$DATA/device.json" > truncated.json
expect 1 "truncated.json: invalid or truncated JSON" select --device truncated.json $EDGE $NET
sed 's/"dec_s"/"dec_z"/' "$DATA/edge.json" > nodec.json
expect 1 "nodec.json: cuts[1].tl[0].dec_s: missing" select $DEV --edge nodec.json $NET

# Usage errors.
expect 2 "no network" select $DEV $EDGE
expect 2 "device->edge needs both --bandwidth and --rtt" select $DEV $EDGE --bandwidth 10mbit
expect 2 "unknown option '--fast'" select $DEV $EDGE $NET --fast

finish
