#!/usr/bin/env bash
# fuzz_bundle.sh: runs the libFuzzer target for the bundle loader (model/fuzz_bundle.c:
# sl_bundle_check_image, the loader's own code in its check mode, on an HDF5 image in memory
# through h5/, lent to HDF5 without a copy: root attributes, graph JSON, declared shapes and the
# weight limit, every weight, /extra, the wire description) in-process under ASan + UBSan,
# starting from real bundles made by sl-preprocess (a model, a float split, an 8-bit TL split) and
# their JSON documents, and prints the executions, the rate and any finding.
#
#   bench/fuzz_bundle.sh [--build DIR] [--time SECONDS] [--runs N] [--corpus DIR] [--jobs N]
#
# DIR is a normal (gcc) build of the project, configured and built if missing (default
# build-fuzz-bundle); the loader's sources (model/ but the ONNX reader, h5/, common/) are
# compiled again with clang and -fsanitize=fuzzer,address,undefined (one object per source, kept
# in DIR/fuzz-bundle-obj and compiled again when it or a header changes) and linked with that
# build's shim forwarders. The target never loads the model runtime (SL_SHIM_DENY=1 makes sure: a
# load would be an error). Inputs on which Debian's libhdf5 1.10.8 itself loops or segfaults (a
# global heap it decodes without bounds, tests/model/fuzz_found/) are skipped by the target, so
# they do not take the run's time; any other input over 10 s is a finding (-timeout=10), and so
# is a crash: libFuzzer runs its executions in a child process (-fork=1) that is replaced after
# a timeout or crash (-ignore_timeouts=1 -ignore_crashes=1), so the run goes on, keeps the input
# and counts it (the script then exits 1). The run never hangs: leak detection is off while it
# fuzzes (a LeakSanitizer stop-the-world once stopped a job for good, and libFuzzer's own timeout
# cannot end it), and the leak check runs at the end instead, on every input of the final corpus
# and the seeds (the inputs that reach every branch the run reached; an input that reached no
# new branch is not checked for leaks); and a watchdog kills, by pid, a job still alive after
# 600 s (a job lasts at most 300 s plus one input) or the whole run 1,200 s past --time, which
# the script reports (exit 1; a killed job's executions are not counted). The executions are
# libFuzzer's own count, summed over the jobs; the script prints them with the wall time, the CPU
# time (GNU time, every process of the run) and both rates. Leaks that libhdf5 itself allocates
# on a malformed file are not reported (LSan suppression `leak:libhdf5`): they are the library's,
# and our own objects held through HDF5 ids stay reachable from its id tables anyway. An allocation beyond
# what ASan supports returns NULL as the C library's would (allocator_may_return_null=1): libhdf5
# asks for exabytes on some damaged files (tests/model/fuzz_found/hdf5-huge-alloc.h5) and refuses
# the file when it gets NULL, which ASan by default reports as a crash. ASan's quarantine of
# freed memory is 32 MiB instead of 256 and its free memory is not returned to the system, so
# executions reuse memory that is already mapped (page faults were most of an execution's time).
# Defaults: 600 s, no run limit, one job at a time (--jobs N: N fork-mode jobs at once, a core
# each), a fresh corpus in a temporary folder (pass --corpus to keep it and resume). Runs under
# nice -n 10 (the machine is shared). Exit code: 0 when libFuzzer found
# nothing, 1 when it found a crash, leak or timeout (the input is kept in the work folder, whose
# path is printed) or the watchdog killed a stuck process, 2 for usage errors, 77 when clang or
# libFuzzer is missing (apt-get install clang libclang-rt-14-dev).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
name=fuzz_bundle.sh build=$src/build-fuzz-bundle
# shellcheck source=bench/fuzz_lib.sh
. "$src/bench/fuzz_lib.sh"
fuzz_options 42 "$@"
fuzz_need_clang "apt-get install clang libclang-rt-14-dev"
fuzz_configure
# sl-preprocess makes the seeds; libsl_torch.so (its model runtime) is built when missing only:
# the fuzz target does not use it, and rebuilding it after each change of shim/ takes minutes.
targets="sl_shim sl-preprocess"
[ -f "$build/lib/libsl_torch.so" ] || targets="$targets sl_torch"
# shellcheck disable=SC2086
nice -n 10 cmake --build "$build" -j2 --target $targets >/dev/null
fuzz=$build/bin/sl-fuzz-bundle
mkdir -p "$build/bin"
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
# Each source is compiled again only when it, or a header of model/, h5/ or common/, is newer than
# its object (all of them take minutes on a busy machine; one takes seconds), two at a time.
objs=$build/fuzz-bundle-obj
mkdir -p "$objs"
cflags="-std=c11 -w $flags -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DSL_VERSION=\"fuzz\" -I$src $(pkg-config --cflags hdf5 libcjson)"
newest_h=$(ls -t "$src"/model/*.h "$src"/h5/*.h "$src"/common/*.h | head -1)
set --
for c in $(ls "$src"/model/*.c | grep -v '/onnx\.c$') "$src"/h5/h5.c "$src"/common/*.c; do
    o=$objs/$(basename "$(dirname "$c")")_$(basename "$c" .c).o
    set -- "$@" "$o"
    [ "$o" -nt "$c" ] && [ "$o" -nt "$newest_h" ] && continue
    while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n || true; done
    # shellcheck disable=SC2086
    { nice -n 10 clang $cflags -c "$c" -o "$o.tmp" 2>"$o.log" && mv "$o.tmp" "$o"; } &
done
wait
for o in "$@"; do
    [ -f "$o" ] || { cat "$o.log" >&2; echo "fuzz_bundle.sh: compiling ${o##*/} failed" >&2; exit 1; }
done
relink=0
for o in "$@"; do [ "$o" -nt "$fuzz" ] && relink=1; done
# shellcheck disable=SC2046,SC2086
if [ -x "$fuzz" ] && [ $relink = 0 ]; then
    echo "sl-fuzz-bundle is up to date"
elif ! nice -n 10 clang $flags "$@" "$build/shim/libsl_shim.a" \
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
export ASAN_OPTIONS="allocator_may_return_null=1:quarantine_size_mb=32:allocator_release_to_os_interval_ms=-1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
leak_pass=1
fuzz_run "$fuzz" 262144 -rss_limit_mb=4096 -timeout=10 -fork="$jobs" -ignore_timeouts=1 -ignore_crashes=1
