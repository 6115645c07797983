#!/usr/bin/env bash
# deploy_batch.sh: deploy/sl-device-batch, the pass that sl-device.service runs, with the native
# sl-offload (no qemu needed): the images of the inbox are classified through the edge, their
# lines land in results/<batch>.jsonl and the images are gone, while a file still being written
# (a hidden name) stays in the inbox; with the edge down, a failed batch is kept and
# the pass exits 1 (systemd's Restart=on-failure runs it again), and after SL_ATTEMPTS runs its
# images and last results move to failed/<batch>/ and the pass exits 0. It runs with the
# unit's SL_SHIM_DROP_PAGES=1 (shim/loader.c): the classes are those of a plain native run.
: "${SL_SRC:?}"
source "$SL_SRC/tests/e2e/lib.sh"
use_models m.h5 d.h5 e.h5 || fail "the models (tinycnn, split at pool1)"
"$DATA" synth --product casting --size 32 --per-class 1 --out "$W/data" 2>/dev/null || fail "synth"
(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$W/token")
start_edge edge
"$OFF" deploy --edge "127.0.0.1:$EDGE_PORT" --token-file "$W/token" "$W/e.h5" >/dev/null \
    || fail "deploy"

S=$W/state
mkdir -p "$S/inbox" "$W/ref"
i=0
while IFS= read -r f; do
    cp "$f" "$S/inbox/img$i.png"
    cp "$f" "$W/ref/img$i.png"
    i=$((i + 1))
done < <(find "$W/data" -name '*.png' | sort)
[ $i -ge 4 ] || fail "only $i images"
"$OFF" run --model "$W/m.h5" --images "$W/ref" -o "$W/ref.jsonl" 2>/dev/null || fail "native run"
echo partial >"$S/inbox/.img-being-written.png"
export SL_STATE=$S SL_EDGE=127.0.0.1:$EDGE_PORT SL_OFFLOAD=$OFF SL_TOKEN=$W/token \
    SL_MODEL=$W/d.h5 SL_ATTEMPTS=2 SL_DEVICE_ARGS="--threads 1" SL_SHIM_DROP_PAGES=1
"$SL_SRC/deploy/sl-device-batch" 2>"$W/pass1.log" || { cat "$W/pass1.log"; fail "pass 1"; }
py "$S" "$i" "$W/ref.jsonl" <<'PY'
import glob, json, os, sys
s, n = sys.argv[1], int(sys.argv[2])
ref = {os.path.basename(r["file"]): r["class_index"] for r in map(json.loads, open(sys.argv[3]))}
res = glob.glob(s + "/results/*.jsonl")
assert len(res) == 1 and not glob.glob(s + "/results/*.part"), os.listdir(s + "/results")
rows = [json.loads(l) for l in open(res[0])]
summary = rows.pop()["summary"]
assert summary["images"] == n and summary["edge"] == n and summary["errors"] == 0, summary
assert all(r["via"] == "edge" for r in rows) and len(rows) == n
assert len(ref) == n and all(r["class_index"] == ref[os.path.basename(r["file"])] for r in rows)
assert os.listdir(s + "/inbox") == [".img-being-written.png"], os.listdir(s + "/inbox")
assert os.listdir(s + "/batches") == [], os.listdir(s + "/batches")
print(f"ok: pass 1: {n} images through the edge into {os.path.basename(res[0])}, native classes")
PY
pass "a pass classifies the inbox"

kill -9 "$EDGE_PID"
wait "$EDGE_PID" 2>/dev/null || true
cp "$(find "$W/data" -name '*.png' | sort | head -1)" "$S/inbox/late.png"
if "$SL_SRC/deploy/sl-device-batch" 2>"$W/pass2.log"; then
    cat "$W/pass2.log"; fail "pass 2 exited 0 with the edge down"
fi
grep -q "attempt 1 of 2" "$W/pass2.log" || { cat "$W/pass2.log"; fail "pass 2 did not keep the batch"; }
kept=("$S"/batches/*/)
[ ${#kept[@]} = 1 ] && [ -d "${kept[0]}" ] || fail "the failed batch is not kept"
"$SL_SRC/deploy/sl-device-batch" 2>"$W/pass3.log" || { cat "$W/pass3.log"; fail "pass 3 exited non-zero"; }
f=$(ls "$S/failed")
[ -f "$S/failed/$f/late.png" ] && [ -s "$S/failed/$f/results.jsonl" ] \
    || fail "failed/ does not hold the batch's image and results"
[ -z "$(ls "$S/batches")" ] || fail "batches/ is not empty: $(ls "$S/batches")"
grep -q '"via":"error"\|"via": "error"' "$S/failed/$f/results.jsonl" \
    || fail "the failed batch's results have no error line"
pass "a batch that fails twice with the edge down moves to failed/ with its results"
