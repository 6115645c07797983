#!/usr/bin/env bash
# fuzz_bundle.sh: runs the libFuzzer target for the bundle loader (model/fuzz_bundle.c:
# sl_bundle_check_image, the loader's own code in its check mode, on an HDF5 image in memory
# through h5/: root attributes, graph JSON, declared shapes and the weight limit, every weight,
# /extra, the wire description) under ASan + UBSan, starting from real bundles made by
# sl-preprocess (a model, a float split, an 8-bit TL split) and their JSON documents, and prints
# the executions, the rate and any crash.
#
#   bench/fuzz_bundle.sh [--build DIR] [--time SECONDS] [--runs N] [--corpus DIR]
#
# DIR is a normal (gcc) build of the project, configured and built if missing (default
# build-fuzz-bundle); the loader's sources (model/ but the ONNX reader, h5/, common/) are
# compiled again with clang and -fsanitize=fuzzer,address,undefined and linked with that build's
# shim forwarders. The target never loads the model runtime (SL_SHIM_DENY=1 makes sure: a load
# would be an error). An input that runs over 10 s is a finding (-timeout=10: libhdf5 1.10.8
# loops forever on some malformed files, tests/model/fuzz_found/): libFuzzer runs in a child
# process (-fork=1) that is replaced after a timeout, so the run goes on, keeps the input and
# counts it (the script then exits 1). Leaks that libhdf5 itself
# allocates on a malformed file are not reported (LSan suppression `leak:libhdf5`): they are the
# library's, and our own objects held through HDF5 ids stay reachable from its id tables anyway.
# Defaults: 600 s, no run limit, a fresh corpus in a temporary folder (pass --corpus to keep it
# and resume). Runs under nice -n 10 (the machine is shared). Exit code: 0 when libFuzzer found
# nothing, 1 when it found a crash, leak or timeout (the input is kept in the work folder, whose
# path is printed), 2 for usage errors, 77 when clang or libFuzzer is missing (apt-get install
# clang libclang-rt-14-dev).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
name=fuzz_bundle.sh build=$src/build-fuzz-bundle
# shellcheck source=bench/fuzz_lib.sh
. "$src/bench/fuzz_lib.sh"
fuzz_options 25 "$@"
fuzz_need_clang "apt-get install clang libclang-rt-14-dev"
fuzz_configure
nice -n 10 cmake --build "$build" -j2 --target sl_shim sl_torch sl-preprocess >/dev/null
fuzz=$build/bin/sl-fuzz-bundle
mkdir -p "$build/bin"
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
# Compiled again only when a source is newer than the target (it takes minutes on a busy machine).
newer=$(find "$src/model" "$src/h5" "$src/common" -name '*.[ch]' -newer "$fuzz" 2>/dev/null | head -1)
# shellcheck disable=SC2046,SC2086
if [ -x "$fuzz" ] && [ -z "$newer" ]; then
    echo "sl-fuzz-bundle is up to date"
elif ! nice -n 10 clang -std=c11 -w $flags -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
    -DSL_VERSION='"fuzz"' -I"$src" $(pkg-config --cflags hdf5 libcjson) \
    $(ls "$src"/model/*.c | grep -v '/onnx\.c$') "$src"/h5/h5.c "$src"/common/*.c "$build/shim/libsl_shim.a" \
    $(pkg-config --libs hdf5 libcjson libcrypto) -ldl -lpthread -lm -o "$fuzz" 2>"$build/fuzz_bundle_build.log"; then
    if grep -q 'libclang_rt.fuzzer' "$build/fuzz_bundle_build.log"; then
        echo "fuzz_bundle.sh: libFuzzer is missing (apt-get install libclang-rt-14-dev)" >&2; exit 77
    fi
    cat "$build/fuzz_bundle_build.log" >&2; exit 1
fi
fuzz_workdir sl-fuzz-bundle
(
    cd "$work/seeds"
    P=$build/bin/sl-preprocess
    $P zoo tinycnn --input 3x16x16 --classes 3 -o m.h5
    $P split m.h5 --at pool1 --device d.h5 --edge e.h5
    $P insert m.h5 --at pool2 --tl conv --r 4 --s 2 --bits 8 -o tl.h5
    $P split tl.h5 --device td.h5 --edge te.h5
    rm -f tl.h5
    /usr/bin/python3 - <<'PY'
import h5py
for name in ("d.h5", "te.h5"):
    with h5py.File(name, "r") as f:
        for key in ("wire", "model_config"):
            v = f[key][()]
            open(f"{name}.{key}.json", "wb").write(v if isinstance(v, bytes) else v.encode())
PY
) >"$work/seeds.log" 2>&1 || { cat "$work/seeds.log" >&2; exit 1; }
echo "seeds: $(ls "$work/seeds" | tr '\n' ' ')"
printf 'leak:libhdf5\n' >"$work/lsan.supp"
export SL_SHIM_DENY=1 LSAN_OPTIONS="suppressions=$work/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
fuzz_run "$fuzz" 262144 -rss_limit_mb=4096 -timeout=10 -fork=1 -ignore_timeouts=1
