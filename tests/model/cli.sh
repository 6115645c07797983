#!/usr/bin/env bash
# cli.sh: sl-preprocess zoo / import / inspect and sl-offload run, good and bad invocations.
set -u
rm -rf ./*.h5 ./*.json ./*.jsonl imgs
P="$SL_BIN/sl-preprocess"
O="$SL_BIN/sl-offload"
. "$SL_SRC/tests/cli_check.sh"

check help 0 "" -- "$P" --help
check zoo-help 0 "" -- "$P" zoo --help
check run-help 0 "" -- "$O" run --help
check no-cmd 2 "" -- "$P"
check unknown-cmd 2 "unknown command 'frobnicate'" -- "$P" frobnicate
check zoo-unknown-arch 1 "unknown architecture 'resnet9'" -- "$P" zoo resnet9 -o x.h5
check zoo-no-out 2 "missing -o" -- "$P" zoo tinycnn
check zoo-bad-input 2 "--input" -- "$P" zoo tinycnn --input 3x0x4 -o x.h5
check zoo-bad-classes 2 "--classes" -- "$P" zoo tinycnn --classes many -o x.h5
check_rt zoo-too-small 1 "smaller than" -- "$P" zoo vgg11 --input 3x16x16 -o x.h5
[ ! -e x.h5 ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: failed zoo left x.h5"; }
check zoo 0 "" -- "$P" zoo tinycnn --classes 3 --input 3x32x32 --labels ok,crack,hole -o m.h5
check zoo-labels-mismatch 2 "disagrees" -- "$P" zoo tinycnn --classes 2 --labels a,b,c -o m2.h5

out=$("$P" inspect m.h5)
grep -q "cut points" <<<"$out" && grep -q "conv1" <<<"$out" && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL inspect text"; }
"$P" inspect --json m.h5 >m.json
if "$SL_PYTHON" - <<'PY'
import json
d = json.load(open("m.json"))
assert d["role"] == "model" and d["classes"] == ["ok", "crack", "hole"]
assert d["nodes"][0]["name"] == "conv1" and d["nodes"][0]["shape"] == [16, 32, 32]
assert d["cuts"][0] == "image" and d["cuts"][-1] == "fc"
assert d["params"] > 20000 and d["flops"] > 0
PY
then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL inspect json"; fi
printf 'garbage' >bad.h5
check inspect-garbage 1 "not an HDF5 file" -- "$P" inspect bad.h5
check inspect-missing 1 "cannot open" -- "$P" inspect nope.h5
check inspect-two 2 "expected one" -- "$P" inspect m.h5 m.h5

# run: tensor in, tensor out; the batch dimension is kept.
"$SL_PYTHON" -c "
import h5py, numpy as np
with h5py.File('in.h5', 'w') as f: f['input'] = np.random.RandomState(0).randn(3, 3, 32, 32).astype('float32')
with h5py.File('wrong.h5', 'w') as f: f['input'] = np.zeros((1, 3, 16, 16), 'float32')
"
check run 0 "" -- "$O" run --model m.h5 --tensor in.h5 -o out.h5
"$SL_PYTHON" -c "
import h5py; assert h5py.File('out.h5', 'r')['output'].shape == (3, 3)" && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL run output shape"; }
check run-jsonl 0 "" -- "$O" run --model m.h5 --tensor in.h5 -o out.jsonl
[ "$(wc -l <out.jsonl)" -eq 3 ] && grep -q '"class":' out.jsonl && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL run jsonl"; }
check_rt run-wrong-shape 1 "the model expects Nx3x32x32" -- "$O" run --model m.h5 --tensor wrong.h5 -o o2.h5
[ ! -e o2.h5 ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: failed run left o2.h5"; }
check run-no-input 2 "exactly one" -- "$O" run --model m.h5
check run-no-dataset 1 "no dataset 'input'" -- "$O" run --model m.h5 --tensor out.h5
check run-bad-model 1 "not an HDF5 file" -- "$O" run --model bad.h5 --tensor in.h5
check run-bad-ext 2 "-o must end" -- "$O" run --model m.h5 --tensor in.h5 -o out.txt
check run-missing-tensor 1 "nothere.h5: cannot open" -- "$O" run --model m.h5 --tensor nothere.h5
check run-images-h5 2 "-o FILE.h5 goes with --tensor" -- "$O" run --model m.h5 --images . -o x.h5
# run on images: a folder of PNGs gives one line per image.
"$SL_BIN/sl-data" synth --product casting --size 32 --per-class 2 --splits 1,0,0 --out imgs >/dev/null 2>&1
rm -f img.jsonl
check run-images 0 "" -- "$O" run --model m.h5 --images imgs -o img.jsonl --batch 3
n=$(find imgs -name '*.png' | wc -l)
[ "$n" -gt 0 ] && [ "$(wc -l <img.jsonl)" -eq "$n" ] && grep -q '"file":' img.jsonl && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL run images: $n images, $(wc -l <img.jsonl) lines"; }
check run-no-images 1 "no images (.png, .jpg, .jpeg, .bmp) found" -- "$O" run --model m.h5 --images "$PWD/nothing*.png"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
