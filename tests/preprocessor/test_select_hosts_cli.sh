#!/bin/bash
# test_select_hosts_cli.sh: `sl-preprocess select` across candidate hosts (issue 17) on the
# hand-made profiles in data/: hosts named by NAME=FILE, a host-named network CSV with a
# device->cloud link, plan.json naming the hosts, and the refusals (a bad CSV row, a plan table
# over several edges). The cost model and every CSV refusal are checked in test_select_hosts.c.
set -u
. "$SL_SRC/tests/preprocessor/cli_lib.sh"
DATA="$SL_SRC/tests/preprocessor/data"

# Edge "far" is fx_edge on 10 Mbit/s, 20 ms; edge "near" the same profile on 100 Mbit/s, 2 ms.
# Through near, the raw image (150000 B) costs 0.00015 + 0.002 + 0.012 to arrive and 0.0062 for
# the whole model there: 20.35 ms. Any later cut pays the device's first block (50 ms); sending
# on to the cloud adds 0.000075 + 0.005 + 0.012 and saves only 0.0031 of compute; straight to the
# cloud costs 0.00015 + 0.03 + 0.06 + 0.0031. Local-only is 155 ms.
cat >net.csv <<'CSV'
source,destination,ping(ms),bandwidth(mbps)
pi,far,20,10
pi,near,2,100
edge,cloud,5,100
pi,dc,30,20
CSV
HOSTS=(--device "pi=$DATA/device.json" --edge "far=$DATA/edge.json" --edge "near=$DATA/edge.json"
       --cloud "dc=$DATA/cloud.json" --network net.csv)
expect 0 "edge(near) 0-3 [raw image]" select "${HOSTS[@]}" -o plan.json --top 45
check "29 plans, 2 edges x 1 cloud" grep -qF "chain4: 29 plans, 29 allowed; 2 edges x 1 cloud" out.txt
check "plan.json names the hosts of every plan" "$PY" -c '
import json; p = json.load(open("plan.json"))
b = p["best"]
assert b["hosts"] == {"device": "pi", "edge": "near", "cloud": None}, b["hosts"]
assert abs(b["latency_s"]["total"] - 0.02035) < 1e-9, b["latency_s"]
assert [e["name"] for e in p["hosts"]["edge"]] == ["far", "near"]
assert p["network"]["device_edge"] == {"bandwidth_bps": 1e8, "rtt_s": 0.002}
direct = [q for q in p["plans"] if q["direct_to_cloud"]]
assert len(direct) == 4 and all(q["hosts"]["edge"] is None for q in direct)
assert abs(min(q["latency_s"]["total"] for q in direct) - 0.09325) < 1e-9
'

printf 'pi,far,20,10\npi,near,2,100\nfar,pi,1,1\n' >dup.csv
expect 1 "dup.csv:3: a second row for the link far,pi (line 1 has it" \
    select --device "pi=$DATA/device.json" --edge "far=$DATA/edge.json" --network dup.csv
expect 2 "plan table: it varies one device->edge link" \
    select "${HOSTS[@]}" --bandwidths 1mbit,10mbit

finish
