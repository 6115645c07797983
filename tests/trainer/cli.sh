#!/bin/bash
# cli.sh: sl-train's command line: help, usage errors (exit 2), runtime errors (exit 1).
set -u
. "$SL_SRC/tests/trainer/cli_lib.sh"
check help 0 "usage: sl-train fit" -- "$T" fit --help
check help-eval 0 "usage: sl-train eval" -- "$T" eval --help
check no-data 2 "sl-train: fit: missing --data PATH" -- "$T" fit -o x.h5
check no-out 2 "sl-train: fit: missing -o/--out FILE" -- "$T" fit --data d
check bad-lr 2 "sl-train: fit: --lr" -- "$T" fit --data d -o x.h5 --lr abc
check bad-optim 2 "--optim: 'rmsprop' is not one of sgd,adam" -- "$T" fit --data d -o x.h5 --optim rmsprop
check bad-sched 2 "is not one of none,step,cosine" -- "$T" fit --data d -o x.h5 --schedule linear
check bad-stage 2 "--tl-stage" -- "$T" fit --data d -o x.h5 --tl-stage 3
check stage-model 2 "--tl-stage needs --model" -- "$T" fit --data d -o x.h5 --tl-stage 1
check distill 2 "--distill needs --tl-stage 2" -- "$T" fit --data d -o x.h5 --model m.h5 --distill 4
check augment 2 "--augment: unknown 'blur'" -- "$T" fit --data d -o x.h5 --augment flip,blur
check unknown 2 "unknown option '--frobnicate'" -- "$T" fit --data d -o x.h5 --frobnicate 1
check missing-value 2 "option '--epochs' needs a value" -- "$T" fit --data d -o x.h5 --epochs
check both-models 2 "exclude each other" -- "$T" fit --data d -o x.h5 --model m.h5 --arch tinycnn
check eval-which 2 "exactly one of" -- "$T" eval --data d
check eval-pair-one 2 "option '--pair' needs two values" -- "$T" eval --data d --pair d.h5
check out-alias 2 "exclude each other" -- "$T" fit --data d --output x.h5 --model m.h5 --arch tinycnn
check eval-split 2 "--split: 'dev' is not one of train,val,test,all" -- "$T" eval --data d --model m.h5 --split dev
check no-data-dir 1 "sl-train: fit: --data: " -- "$T" fit --data does-not-exist -o x.h5
check no-model 1 "sl-train: eval: --data: does-not-exist" -- "$T" eval --data does-not-exist --model m.h5
check eval-no-data 2 "sl-train: eval: missing --data PATH" -- "$T" eval --model m.h5
rm -rf data x.h5 m.jsonl e.json
printf 'not hdf5' > fake.h5
"$SL_BIN/sl-data" synth --out data --size 16 --per-class 6 --seed 2 >/dev/null 2>&1 || { echo "sl-data synth failed"; exit 1; }
check corrupt-model 1 "fake.h5" -- "$T" fit --data data --model fake.h5 -o x.h5 --epochs 1
check missing-resume 1 "--resume: nothere.h5: cannot open" -- "$T" fit --data data --input 1x16x16 -o x.h5 --epochs 1 --resume nothere.h5
check corrupt-resume 1 "fake.h5" -- "$T" fit --data data --input 1x16x16 -o x.h5 --epochs 1 --resume fake.h5
check fit-runs 0 "wrote x.h5" -- "$T" fit --data data --input 1x16x16 -o x.h5 --epochs 1 --batch 8 --log m.jsonl
[ -s x.h5 ] && [ "$(wc -l < m.jsonl)" = 1 ] || { echo "FAIL fit-runs: no output or log"; fail=1; }
check eval-text 0 "confusion (rows: true class" -- "$T" eval --data data --model x.h5 --split all
"$T" eval --data data --model x.h5 --split all --json -o e.json &&
    "$SL_PYTHON" -c 'import json,sys; j=json.load(open("e.json")); assert len(j["confusion"]) == len(j["classes"]) == 4 and sum(map(sum, j["confusion"])) == j["images"]' ||
    { echo "FAIL eval-json"; fail=1; }
exit $fail
