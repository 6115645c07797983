#!/bin/bash
# test_split_files.sh: what `sl-preprocess split` (and any bundle write) promises about files
# (docs/insert-split.md): an existing pair is replaced by rename, whole, with no temporary file
# left; a write that fails part-way (a file-size cap, the signal ignored so write() fails) exits 1
# and leaves the old bundles byte-identical; when the edge half cannot be written the device half
# just written is removed again, so a failed split into a fresh folder leaves nothing.
set -u
. "$SL_SRC/tests/preprocessor/cli_lib.sh"
rm -rf w && mkdir w && cd w || exit 1

"$BIN" zoo tinycnn --input 3x32x32 -o m.h5 2>/dev/null || { echo "zoo failed"; exit 1; }
# (inspect reads the structure without the model runtime: 0.03 s, where importing h5py takes 0.4 s)
pair_id() { "$BIN" inspect --json "$1" | grep -o '"pair_id":[[:space:]]*"[0-9a-f]*"' | grep -o '[0-9a-f]\{32\}'; }
entries() { ls -A | sort | tr '\n' ' '; }

# Overwrite: a pair at pool1, then a pair at relu2 on the same paths.
expect 0 "" split m.h5 --at pool1 --device d.h5 --edge e.h5
old_id=$(pair_id d.h5)
old_inode=$(stat -c %i d.h5)
cp d.h5 d.old
cp e.h5 e.old
before=$(entries)
expect 0 "" split m.h5 --at relu2 --device d.h5 --edge e.h5
new_id=$(pair_id d.h5)
check "the new halves are one pair" [ "$new_id" = "$(pair_id e.h5)" ]
check "the pair was replaced" [ "$new_id" != "$old_id" ]
check "replaced by rename (a new file)" [ "$(stat -c %i d.h5)" != "$old_inode" ]
check "no temporary file left" [ "$(entries)" = "$before" ]

# A write that fails part-way (files capped at 1 KiB): the bundles already there stay as they
# were, for split (its device half fails first) and for zoo.
cp d.h5 d.old
cp e.h5 e.old
cp m.h5 m.old
capped() { (trap '' XFSZ; ulimit -f 1; exec "$BIN" "$@") >out.txt 2>err.txt; }
capped split m.h5 --at pool1 --device d.h5 --edge e.h5
rc=$?
check "a failed split exits 1 (got $rc)" [ "$rc" = 1 ]
check "the error names the file: $(tail -1 err.txt)" grep -q "d.h5" err.txt
check "it names the file once, not its temporary name: $(tail -1 err.txt)" \
    [ "$(tail -1 err.txt | grep -o 'd\.h5' | wc -l)" = 1 ]
check "the old device half is byte-identical" cmp -s d.h5 d.old
check "the old edge half is byte-identical" cmp -s e.h5 e.old
capped zoo resnet18 --input 3x32x32 -o m.h5
rc=$?
check "a failed zoo exits 1 (got $rc)" [ "$rc" = 1 ]
check "the old model is byte-identical" cmp -s m.h5 m.old
check "no temporary file left" [ "$(entries)" = "$(printf '%s\n' $before m.old | sort | tr '\n' ' ')" ]

# An existing pair whose new edge half cannot be written while the device half can (a cap
# between their sizes): the old pair stays whole, not a new device half beside the old edge half.
cp d.h5 d.old
cp e.h5 e.old
(trap '' XFSZ; ulimit -f 100; exec "$BIN" split m.h5 --at pool1 --device d.h5 --edge e.h5) \
    >/dev/null 2>../err2.txt
rc=$?
check "a split whose edge half fails exits 1 (got $rc)" [ "$rc" = 1 ]
check "the error names the edge half's place: $(tail -1 ../err2.txt)" \
    grep -q "split: e.h5: " ../err2.txt
check "the old device half is kept with its edge half" cmp -s d.h5 d.old
check "the old edge half is byte-identical" cmp -s e.h5 e.old

# Rollback: the edge half cannot be written (its path is a folder); the device half is removed.
mkdir -p fresh/e.h5
expect_rt 1 "e.h5" split m.h5 --at pool1 --device fresh/d.h5 --edge fresh/e.h5
check "no device half without its edge half" [ ! -e fresh/d.h5 ]
check "nothing else left in the folder" [ "$(ls -A fresh)" = "e.h5" ]
check "the folder in the way is untouched" [ -d fresh/e.h5 ] && [ -z "$(ls -A fresh/e.h5)" ]
finish
