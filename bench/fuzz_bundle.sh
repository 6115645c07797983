#!/usr/bin/env bash
# fuzz_bundle.sh: runs the libFuzzer target for the bundle loader (model/fuzz_bundle.c: HDF5 from
# a memory image through h5/, root attributes, graph JSON, declared shapes and the weight limit,
# weights, /extra, the wire description) under ASan + UBSan, starting from real bundles made by
# sl-preprocess (a model, a float split, an 8-bit TL split) and their JSON documents, and prints
# the executions, the rate and any crash.
#
#   bench/fuzz_bundle.sh [--build DIR] [--time SECONDS] [--runs N] [--corpus DIR]
#
# DIR is a normal (gcc) build of the project, configured and built if missing (default
# build-fuzz-bundle); the loader's sources (model/, h5/, common/) are compiled again with clang
# and -fsanitize=fuzzer,address,undefined and linked with that build's shim forwarders, which
# open lib/libsl_torch.so on first use. Defaults: 600 s, no run limit, a fresh corpus in a
# temporary folder (pass --corpus to keep it and resume). Runs under nice -n 10 (the machine is
# shared). Exit code: 0 when libFuzzer found nothing, 1 when it found a crash (the input is kept
# in the work folder, whose path is printed), 2 for usage errors, 77 when clang or libFuzzer is
# missing (apt-get install clang libclang-rt-14-dev).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$src/build-fuzz-bundle time_s=600 runs=-1 corpus=""
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$2; shift 2 ;;
    --time) time_s=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --corpus) corpus=$2; shift 2 ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fuzz_bundle.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done
command -v clang >/dev/null || { echo "fuzz_bundle.sh: clang is not installed (apt-get install clang libclang-rt-14-dev)" >&2; exit 77; }
mkdir -p "$build" && build=$(cd "$build" && pwd)
[ -f "$build/CMakeCache.txt" ] || cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
nice -n 10 cmake --build "$build" -j2 --target sl_shim sl_torch sl-preprocess >/dev/null
fuzz=$build/bin/sl-fuzz-bundle
mkdir -p "$build/bin"
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
# shellcheck disable=SC2046,SC2086
if ! nice -n 10 clang -std=c11 -w $flags -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
    -DSL_VERSION='"fuzz"' -I"$src" $(pkg-config --cflags hdf5 libcjson) \
    "$src"/model/*.c "$src"/h5/h5.c "$src"/common/*.c "$build/shim/libsl_shim.a" \
    $(pkg-config --libs hdf5 libcjson libcrypto) -ldl -lpthread -lm -o "$fuzz" 2>"$build/fuzz_bundle_build.log"; then
    if grep -q 'libclang_rt.fuzzer' "$build/fuzz_bundle_build.log"; then
        echo "fuzz_bundle.sh: libFuzzer is missing (apt-get install libclang-rt-14-dev)" >&2; exit 77
    fi
    cat "$build/fuzz_bundle_build.log" >&2; exit 1
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/sl-fuzz-bundle.XXXXXX")
keep=0
trap '[ "$keep" = 1 ] || rm -rf "$work"' EXIT
if [ -z "$corpus" ]; then corpus=$work/corpus; fi
mkdir -p "$corpus" "$work/seeds"
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
cd "$work"
set +e
nice -n 10 "$fuzz" -max_total_time="$time_s" -runs="$runs" -max_len=262144 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix="$work/" "$corpus" "$work/seeds" >"$work/log" 2>&1
rc=$?
set -e
grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$work/log" || true
done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$work/log" || true)
if [ -n "$done_line" ]; then echo "$done_line"; fi
if [ $rc -ne 0 ]; then
    keep=1
    grep -E 'ERROR: (AddressSanitizer|libFuzzer)|runtime error|SUMMARY|#[0-9]+ 0x' "$work/log" | head -12 >&2 || true
    echo "fuzz_bundle.sh: libFuzzer exited $rc; log and crash input in $work" >&2
    exit 1
fi
