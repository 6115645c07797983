#!/bin/bash
# test_slicing_cli.sh: `sl-preprocess profile`, `insert` and `split` end to end on tinycnn and
# mobilenet_v2 at 32x32: profile -> select -> insert --plan -> split --plan, the bundles checked
# with h5py, DAG splits at several tensors, insert options.
set -u
. "$SL_SRC/tests/preprocessor/cli_lib.sh"

"$BIN" zoo tinycnn --input 3x32x32 --labels ok,crack,hole -o tiny.h5 2>/dev/null || { echo "zoo failed"; exit 1; }
"$BIN" zoo mobilenet_v2 --input 3x32x32 --classes 3 -o mnv2.h5 2>/dev/null || { echo "zoo failed"; exit 1; }


# profile: two hosts' worth (here the same host), read back by select. The device's profile
# keeps the default idle gap (20 ms before each timed range); the others measure back to back
# (--idle-gap 0), which takes about 2.5 s of waiting off each (test_profile_idle checks the gap).
expect 0 "wrote dev.json" profile tiny.h5 --repeats 2 --warmup 1 -o dev.json
expect 0 "1 threads, batch 2" profile tiny.h5 --repeats 2 --warmup 1 --threads 1 --batch 2 --tl pool --idle-gap 0 -o edge2.json
expect 0 "15 cuts" profile tiny.h5 --repeats 1 --warmup 0 --tl none --idle-gap 0 -o none.json
check "--tl none measures no TL" test "$(grep -c '"config"' none.json)" = 0
expect 0 "wrote edge.json" profile tiny.h5 --repeats 2 --warmup 1 --threads 1 --idle-gap 0 -o edge.json
check "profile JSON: cuts, bytes, TLs" "$PY" -c '
import json
p = json.load(open("dev.json"))
assert p["format"] == "sl-profile" and p["model"] == "tinycnn", p["format"]
assert [c["tensor"] for c in p["cuts"]][:4] == ["image", "conv1", "bn1", "relu1"]
assert len(p["blocks"]) == len(p["cuts"]) - 1
for c in p["cuts"]:
    n = 1
    for d in c["shape"]: n *= d
    assert c["bytes"] == 4 * n, c
    want = ["pool", "conv-r4-s2-b8"] if len(c["shape"]) == 3 and c["tensor"] != "image" else []
    if want and c["shape"][1:] == [1, 1]:
        want = ["conv-r4-s2-b8"]  # a pool TL at 1x1 reduces nothing and is left out
    assert [t["config"] for t in c["tl"]] == want, c
assert p["serialise_bytes_per_s"] > 1e7 and p["total"]["median_s"] > 0
assert p["host"] and p["cpu"] and p["date"].endswith("Z")
q = json.load(open("edge2.json"))
assert q["batch"] == 2 and q["cuts"][1]["bytes"] == 2 * p["cuts"][1]["bytes"]
assert [t["config"] for t in q["cuts"][1]["tl"]] == ["pool"]
'
expect 0 "plans" select --device dev.json --edge edge.json --bandwidth 10mbit --rtt 20ms -o plan.json

# insert and split from the plan.
expect 0 "wrote tl.h5" insert tiny.h5 --plan plan.json --use best_with_tl -o tl.h5
expect 0 "pair id" split tl.h5 --plan plan.json -o pair
check "device/edge bundles: roles, pair id, wire, placeholders" "$PY" -c '
import h5py, json
plan = json.load(open("plan.json"))
cut, tl = plan["best_with_tl"]["cut"]["tensor"], plan["best_with_tl"]["tl"]
d, e = h5py.File("pair/device.h5", "r"), h5py.File("pair/edge.h5", "r")
s = lambda v: v.decode() if isinstance(v, bytes) else str(v)
assert s(d.attrs["role"]) == "device" and s(e.attrs["role"]) == "edge"
pid = s(d.attrs["pair_id"])
assert pid == s(e.attrs["pair_id"]) and len(pid) == 32 and int(pid, 16) >= 0
wd, we = (json.loads(s(f["wire"][()])) for f in (d, e))
assert wd == we and wd["format"] == "sl-wire" and wd["cut"] == [cut], wd
assert wd["tl"]["config"] == tl and wd["model_hash"] == plan["graph_hash"]
t = wd["tensors"][0]
gd, ge = (json.loads(s(f["model_config"][()])) for f in (d, e))
assert gd["outputs"] == [t["name"]]
assert ge["nodes"][0]["op"] == "placeholder" and ge["nodes"][0]["name"] == t["name"]
assert ge["classes"] == ["ok", "crack", "hole"]
n = 1
for x in t["shape"]: n *= x
assert t["bytes_per_image"] == n * (1 if t["dtype"] == "uint8" else 4), t
assert all(x.get("role") == "tl_encoder" for x in gd["nodes"] if x["name"].startswith("tl."))
assert all(x.get("role") == "tl_decoder" for x in ge["nodes"][1:] if x["name"].startswith("tl."))
'
expect 0 "device bundle" inspect pair/device.h5
expect 0 "pair id" split tiny.h5 --plan plan.json --use best_split_without_tl -o slice
check "best real slice without TL: float wire at the plan's cut" "$PY" -c '
import h5py, json
plan = json.load(open("plan.json"))
w = json.loads(h5py.File("slice/edge.h5", "r")["wire"][()])
assert w["cut"] == [plan["best_split_without_tl"]["cut"]["tensor"]] and w["tl"] is None, w
assert w["tensors"][0]["dtype"] == "float32"
'

expect 0 "pair_id" split tiny.h5 --at relu2 --device d2.h5 --edge e2.h5 --json
check "--json names both halves" grep -q '"pair_id"' out.txt
expect 0 "features.3.conv.1.2, features.2.conv.3" split mnv2.h5 --at features.3.conv.1.2,features.2.conv.3 -o multi
check "multi-tensor wire lists both tensors" "$PY" -c '
import h5py, json
w = json.loads(h5py.File("multi/device.h5", "r")["wire"][()])
assert [t["name"] for t in w["tensors"]] == ["features.3.conv.1.2", "features.2.conv.3"], w
assert w["tl"] is None and w["bytes_per_image"] == (144 + 24) * 8 * 8 * 4, w
'
expect 0 "wrote pool.h5" insert mnv2.h5 --at features.3 --tl pool -o pool.h5
expect 0 "conv-r2-s1-b32 at 'features.5'" insert mnv2.h5 --at features.5 --tl conv --r 2 --s 1 --bits 32 -o c.h5

finish
