# lib.sh: shared by the arm64 tests: finds the arm64 device build and qemu-user, and defines
# `arm64 PROGRAM ARGS...`, which runs build-arm64/bin/PROGRAM under qemu-aarch64 with the build's
# sysroot as the arm64 root (-L: the dynamic loader, libc, libtorch and the rest come from there).
# Sources tests/e2e/lib.sh for the fixtures and the native edge. Exits 77 (skipped) when the
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
