# shellcheck shell=bash
# lib.sh: shared by the arm64 tests: finds the arm64 device build, qemu-user and PRoot, and
# defines `arm64 PROGRAM ARGS...`, which runs build-arm64/bin/PROGRAM as the device runs it:
# under qemu-aarch64 with the build's sysroot as the arm64 root (the dynamic loader, libc,
# libtorch and the rest come from there), with the empty stand-ins of
# build-arm64/lib/torch-stubs, which the shim's loader loads before libtorch since they sit next
# to lib/libsl_torch.so (cmake/torch-stubs.py, shim/loader.c), and with SL_SHIM_DROP_PAGES=1,
# as deploy/sl-device.service runs it. PRoot (-q)
# starts it, and every program it starts in turn, through qemu: `run` and `device` read their
# model in a child process, their own program again (/proc/self/exe), which plain qemu-user
# cannot start without binfmt_misc (this container has none; a board runs it natively).
# Sources tests/e2e/lib.sh for the native edge and its helpers. Exits 77 (skipped) when the
# arm64 build, its sysroot, qemu-aarch64 or proot is absent (`make device-arm64` installs and
# makes them all; `make test` does too, beside the native tests: SL_ARM64_PREPARE below), unless
# SL_REQUIRE_ARM64=1, which makes any of these a failure.
: "${SL_SRC:?}" "${SL_ARM64_BUILD:?}"
source "$SL_SRC/tests/e2e/lib.sh"

skip() {
    if [ "${SL_REQUIRE_ARM64:-0}" = 1 ]; then
        fail "$* (SL_REQUIRE_ARM64=1: not skipped)"
    fi
    echo "skip: $*"
    exit 77
}
# make test sets it when it leaves the arm64 tests out (ARM64=0): say why.
[ -z "${SL_ARM64_UNAVAILABLE:-}" ] || skip "$SL_ARM64_UNAVAILABLE"
# make test prepares the arm64 build (tools, sysroot, cross build) in the background beside the
# native build and tests, and names the status file it writes when that ends: "ok" (then any
# missing piece fails, as SL_REQUIRE_ARM64=1), "skip: WHY" (apt could not install the tools or
# the packages) or "failed: ...". These tests come last in the pool (their COST), so this
# rarely waits; when it does, the preparation (nice 19, its process group in .pgid) is raised to
# this test's priority (root only; else it stays), since the pool then needs no CPU. The
# deadline stays under ctest's 900 s.
if [ -n "${SL_ARM64_PREPARE:-}" ]; then
    pgid=${SL_ARM64_PREPARE%.status}.pgid
    if [ ! -s "$SL_ARM64_PREPARE" ] && [ -s "$pgid" ]; then
        renice -n "$(nice)" -g "$(cat "$pgid")" >/dev/null 2>&1 || true
    fi
    for _ in $(seq 1700); do [ -s "$SL_ARM64_PREPARE" ] && break; sleep 0.5; done
    [ -s "$SL_ARM64_PREPARE" ] \
        || fail "make test's arm64 preparation did not end within 850 s (${SL_ARM64_PREPARE%.status}.log)"
    st=$(cat "$SL_ARM64_PREPARE")
    case $st in
    ok) SL_REQUIRE_ARM64=1 ;;
    skip:*) SL_REQUIRE_ARM64=0 && skip "${st#skip: }" ;;
    *)
        tail -n 40 "${SL_ARM64_PREPARE%.status}.log" >&2
        fail "${st#failed: }"
        ;;
    esac
fi
QEMU=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
[ -n "$QEMU" ] || skip "qemu-aarch64 not installed (make device-arm64 installs it)"
PROOT=$(command -v proot || true)
[ -n "$PROOT" ] || skip "proot not installed (make device-arm64 installs it)"
A64=$SL_ARM64_BUILD
# (make test builds these; make device-arm64 adds bin/sl-preprocess, which no test here runs)
for f in "$A64/bin/sl-offload" "$A64/lib/libsl_torch.so" "$A64/lib/torch-stubs/README"; do
    [ -f "$f" ] || skip "$f not built (make device-arm64)"
done
SYSROOT=$(sed -n 's/^SL_ARM64_SYSROOT:PATH=//p' "$A64/CMakeCache.txt" 2>/dev/null || true)
if [ -z "$SYSROOT" ] || [ ! -e "$SYSROOT/lib/ld-linux-aarch64.so.1" ]; then
    skip "no arm64 sysroot recorded in $A64/CMakeCache.txt"
fi
# ELF e_machine (offset 18, little-endian): 0xb7 is EM_AARCH64.
[ "$(od -An -tx1 -j18 -N2 "$A64/bin/sl-offload" | tr -d ' ')" = b700 ] \
    || fail "$A64/bin/sl-offload is not an aarch64 program"

# The guest sees the sysroot as /, with the build, the test's folder and the kernel's file
# systems bound at their own paths. PRoot, run as root, makes the missing mount points of its
# bindings (and of /host-rootfs, where -q binds the host's /) as directories in the sysroot
# itself and removes them when it exits: two PRoots on the same sysroot then remove each
# other's, and the one still running fails to find files for a moment (a stand-in not found, a
# child not started: exit 127; docs/benchmarks.md, arm64). Made here beforehand, they are
# never removed. The test's own folder is unique, so PRoot's handling of it is safe.
mkdir -p "$SYSROOT/dev" "$SYSROOT/proc" "$SYSROOT/sys" "$SYSROOT/host-rootfs" "$SYSROOT$A64" \
    || fail "cannot make the mount points in $SYSROOT"
arm64() {
    local prog=$1
    shift
    SL_SHIM_DROP_PAGES=1 "$PROOT" -q "$QEMU" -r "$SYSROOT" -b /proc -b /dev \
        -b /sys -b "$A64" -b "$W" "$A64/bin/$prog" "$@"
}

# arm64_fixtures [PER_CLASS]: $W/m.h5 (tinycnn 3x32x32); with PER_CLASS also its float split at
# pool1 ($W/d.h5 + $W/e.h5), synthetic images in $W/data and a token. The models are the e2e
# tests' shared ones (e2e/lib.sh's use_models: copied from the fixture e2e_models when CTest
# made it, else made here); fewer images than make_fixtures: every second counts twice here,
# since the arm64 side runs under emulation.
arm64_fixtures() {
    if [ $# -eq 0 ]; then
        use_models m.h5 || fail "the model"
        return 0
    fi
    use_models m.h5 d.h5 e.h5 || fail "the model and its float split"
    "$DATA" synth --product casting --size 32 --per-class "$1" --out "$W/data" 2>/dev/null \
        || fail "synth"
    (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$W/token")
}
