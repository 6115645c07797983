#!/bin/bash
# test_slicing_errors.sh: bad inputs to `sl-preprocess profile`, `insert` and `split`: cuts that do
# not exist or are not single-tensor, sets that do not separate, plans for another model,
# truncated and local-only plans, TL misuse: exit 1 and the reason.
set -u
. "$SL_SRC/tests/preprocessor/cli_lib.sh"

"$BIN" zoo tinycnn --input 3x32x32 -o tiny.h5 2>/dev/null || { echo "zoo failed"; exit 1; }
"$BIN" zoo mobilenet_v2 --input 3x32x32 --classes 3 -o mnv2.h5 2>/dev/null || { echo "zoo failed"; exit 1; }
expect 0 "wrote tl.h5" insert tiny.h5 --at conv2 -o tl.h5
# Plans as select writes them (docs/formats/plan.md), for tinycnn.
"$BIN" inspect tiny.h5 --json >tiny.json || { echo "inspect failed"; exit 1; }
"$PY" - <<'PYEOF' || { echo "writing plans failed"; exit 1; }
import json
h = json.load(open("tiny.json"))["graph_hash"]
def plan(tensor, kind, tl):
    p = {"cut": {"index": 1, "tensor": tensor, "kind": kind}, "tl": tl}
    return {"format": "sl-plan", "version": 1, "model": "tinycnn", "graph_hash": h, "best": p,
            "best_with_tl": p if tl else None, "best_without_tl": None if tl else p,
            "dads": None, "dads_throughput": None}
json.dump(plan("pool1", "slice", "conv-r4-s2-b8"), open("plan.json", "w"), indent=1)
json.dump(plan("fc", "local-only", None), open("local.json", "w"), indent=1)
PYEOF
expect 0 "conv-r4-s2-b8 at 'pool1'" insert tiny.h5 --plan plan.json -o fromplan.h5

# Bad inputs: runtime failures exit 1 with the reason, usage errors exit 2.
expect 1 "cut points are: image, conv1, bn1, relu1, pool1" insert tiny.h5 --at nope -o x.h5
expect 1 "'features.3.conv.2' is not a single-tensor cut" insert mnv2.h5 --at features.3.conv.2 -o x.h5
expect 1 "the path image -> features.0.0 -> features.0.1" split mnv2.h5 --at features.3.conv.2 -o x
check "the escaping path goes around the cut through the skip" \
    grep -qF "features.2.conv.3 -> features.3 -> features.4.conv.0.0" err.txt
expect 1 "plan.json was made for another model" split mnv2.h5 --plan plan.json -o x
head -c 300 plan.json >trunc.json
expect 1 "trunc.json: invalid or truncated JSON" insert tiny.h5 --plan trunc.json -o x.h5
expect 1 "local-only plan: there is nothing to split" split tiny.h5 --plan local.json -o x
expect 1 "local-only plan: there is no slice point to put a TL at" insert tiny.h5 --plan local.json -o x.h5
expect 1 "run sl-preprocess insert first" split tiny.h5 --plan plan.json -o x
expect 1 "split it at its wire tensor" split tl.h5 --at conv1 -o x
expect 1 "already has a transfer layer" insert tl.h5 --at conv1 -o x.h5
expect 1 "has no transfer layer: give --plan or --at" split tiny.h5 -o x
expect 1 "missing.h5" insert missing.h5 --at conv1 -o x.h5
check "no half-written outputs after failures" test ! -e x.h5 -a ! -e x
finish
