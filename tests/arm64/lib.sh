# shellcheck shell=bash
# lib.sh: shared by the arm64 tests: finds the arm64 device build and qemu-user, and defines
# `arm64 PROGRAM ARGS...`, which runs build-arm64/bin/PROGRAM under qemu-aarch64 with the build's
# sysroot as the arm64 root (-L: the dynamic loader, libc, libtorch and the rest come from there).
# Sources tests/e2e/lib.sh for the native edge and its helpers. Exits 77 (skipped) when the
# arm64 build, its sysroot or qemu-aarch64 is absent.
: "${SL_SRC:?}" "${SL_ARM64_BUILD:?}"
source "$SL_SRC/tests/e2e/lib.sh"

QEMU=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
[ -n "$QEMU" ] || { echo "skip: qemu-aarch64 not installed (make device-arm64 installs it)"; exit 77; }
A64=$SL_ARM64_BUILD
for f in "$A64/bin/sl-offload" "$A64/bin/sl-preprocess" "$A64/lib/libsl_torch.so"; do
    [ -f "$f" ] || { echo "skip: $f not built (make device-arm64)"; exit 77; }
done
SYSROOT=$(sed -n 's/^SL_ARM64_SYSROOT:PATH=//p' "$A64/CMakeCache.txt" 2>/dev/null || true)
[ -n "$SYSROOT" ] && [ -e "$SYSROOT/lib/ld-linux-aarch64.so.1" ] \
    || { echo "skip: no arm64 sysroot recorded in $A64/CMakeCache.txt"; exit 77; }
# ELF e_machine (offset 18, little-endian): 0xb7 is EM_AARCH64.
[ "$(od -An -tx1 -j18 -N2 "$A64/bin/sl-offload" | tr -d ' ')" = b700 ] \
    || fail "$A64/bin/sl-offload is not an aarch64 program"

arm64() {
    local prog=$1
    shift
    "$QEMU" -L "$SYSROOT" "$A64/bin/$prog" "$@"
}

# arm64_fixtures [PER_CLASS]: $W/m.h5 (tinycnn 3x32x32); with PER_CLASS also its float split at
# pool1 ($W/d.h5 + $W/e.h5), synthetic images in $W/data and a token. Lighter than
# make_fixtures: every second counts twice here, since the arm64 side runs under emulation.
arm64_fixtures() {
    "$PRE" zoo tinycnn --input 3x32x32 -o "$W/m.h5" 2>/dev/null || fail "zoo tinycnn"
    [ $# -gt 0 ] || return 0
    "$PRE" split "$W/m.h5" --at pool1 --device "$W/d.h5" --edge "$W/e.h5" >/dev/null 2>&1 \
        || fail "split"
    "$DATA" synth --product casting --size 32 --per-class "$1" --out "$W/data" 2>/dev/null \
        || fail "synth"
    (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$W/token")
}
