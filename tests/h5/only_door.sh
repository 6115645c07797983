#!/bin/bash
# only_door.sh: every HDF5 call of the tree goes through h5/ (h5/h5.h), where one lock guards it:
# no other source file includes <hdf5.h> or calls an H5* function.
set -u
src=${SL_SRC:?SL_SRC is not set}
cd "$src" || exit 1
hits=$(grep -rnE '#include[[:space:]]*[<"](hdf5|H5[A-Za-z]*)\.h[>"]|\bH5[A-Z][A-Za-z_0-9]*[[:space:]]*\(' \
    --include='*.c' --include='*.h' --include='*.cpp' --include='*.hpp' \
    --exclude-dir='build*' --exclude-dir='.git' . | grep -v '^\./h5/')
if [ -n "$hits" ]; then
    echo "FAIL: HDF5 called outside h5/ (go through h5/h5.h, which holds the lock):"
    echo "$hits"
    exit 1
fi
n=$(grep -cE '\bH5[A-Z][A-Za-z_0-9]*[[:space:]]*\(' h5/h5.c)
echo "ok: every HDF5 call ($n call sites) is in h5/h5.c"
[ "$n" -gt 0 ]
