#!/bin/bash
# test_slicing_usage.sh: `--help` of `sl-preprocess profile`, `insert` and `split` (exit 0), and
# their usage errors: exit 2 with a message saying what is wrong, before any model is read.
set -u
. "$SL_SRC/tests/preprocessor/cli_lib.sh"

for sub in profile insert split; do expect 0 "usage: sl-preprocess $sub" $sub --help; done
expect 2 "missing -o" insert none.h5 --at conv1
expect 2 "exactly one of --plan and --at" insert none.h5 --plan plan.json --at conv1 -o x.h5
expect 2 "expected 'pool' or 'conv-r<R>-s<S>-b<BITS>'" insert none.h5 --at conv1 --tl conv-r4 -o x.h5
expect 2 "--bits must be 8 or 32" insert none.h5 --at conv1 --tl conv --bits 16 -o x.h5
expect 2 "give -o DIR, or --device FILE and --edge FILE" split none.h5 --at relu2
expect 2 "--device and --edge go together" split none.h5 --at relu2 --device d.h5
expect 2 "--device and --edge name the same file" split none.h5 --at relu2 --device d.h5 --edge d.h5
expect 2 "--tl: transfer layer 'conv-r4'" profile none.h5 --tl pool,conv-r4 -o x.json
expect 2 "--repeats" profile none.h5 --repeats 0 -o x.json
expect 2 "unknown option '--bogus'" split none.h5 --bogus
expect 2 "--use goes with --plan" split none.h5 --at relu2 --use dads -o x
expect 2 "--r, --s and --bits go with --tl conv" insert none.h5 --at conv1 --tl pool --r 2 -o x.h5
expect 2 "--use: expected best_with_tl, best or best_without_tl" insert none.h5 --plan p.json --use dads -o x.h5
expect 2 "expected one MODEL.h5" profile
check "nothing written" test ! -e x.h5 -a ! -e x -a ! -e x.json
finish
