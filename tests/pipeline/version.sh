#!/usr/bin/env bash
# version.sh: every command of the pipeline (sl-data, sl-preprocess, sl-train, sl-offload,
# sl-pipeline) answers --version with "<command> <version>" on stdout, the project's version
# from CMakeLists.txt, exit 0 and nothing on stderr.
set -u
want=$(sed -n 's/^project([A-Za-z]* *VERSION \([0-9.]*\).*/\1/p' "$SL_SRC/CMakeLists.txt")
[ -n "$want" ] || { echo "FAIL: no project version in CMakeLists.txt"; exit 1; }
pass=0
fail=0
for cmd in sl-data sl-preprocess sl-train sl-offload sl-pipeline; do
    "$SL_BIN/$cmd" --version >out.txt 2>err.txt
    rc=$?
    if [ "$rc" = 0 ] && [ "$(cat out.txt)" = "$cmd $want" ] && [ ! -s err.txt ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $cmd --version: exit $rc, stdout '$(cat out.txt)', stderr '$(cat err.txt)'"
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
