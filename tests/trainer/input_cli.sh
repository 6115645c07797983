#!/bin/bash
# input_cli.sh: sl-train fit's input follows the data (a 16 px gray line makes a 1x16x16 model,
# said on stderr), a resize is warned about, --mean/--std land in the bundle (sl-preprocess
# inspect shows them), the augmentation list parses (and refuses bad names and values).
set -u
. "$SL_SRC/tests/trainer/cli_lib.sh"
P="$SL_BIN/sl-preprocess"
rm -rf d m*.h5
"$SL_BIN/sl-data" synth --product casting --out d --size 16 --per-class 6 --splits none --seed 2 \
    2>/dev/null || { echo "FAIL: synth"; exit 1; }
FIT=("$T" fit --data d --epochs 1 --batch 8 --threads 1 --workers 1)

check from-data 0 "input 1x16x16, from the data" -- "${FIT[@]}" -o m1.h5
check inspect-1 0 "input: image 1x16x16;" -- "$P" inspect m1.h5
check inspect-norm 0 "normalisation: (v/255 - mean) / std, mean 0.5, std 0.25" -- "$P" inspect m1.h5
check resize-warn 0 "the model's input is 3x24x24 but the images are 1x16x16" -- \
    "${FIT[@]}" --input 3x24x24 -o m2.h5
grep -qF "resized and repeated to 3 channels" err.txt || { echo "FAIL: resize warning text"; fail=1; }
check no-warn 0 "wrote m3.h5" -- "${FIT[@]}" --input 1x16x16 -o m3.h5
grep -q "warning" err.txt && { echo "FAIL: a warning without a resize"; cat err.txt; fail=1; }
check mean-std 0 "wrote m4.h5" -- "${FIT[@]}" --mean 0.4 --std 0.2 -o m4.h5
check inspect-4 0 "mean 0.4, std 0.2" -- "$P" inspect m4.h5
check_rt mean-count 1 "--mean has 3 values but the model's input has 1 channel" -- \
    "${FIT[@]}" --mean 0.4,0.4,0.4 -o m5.h5
check mean-bundle 2 "are for --arch" -- "$T" fit --data d --model m1.h5 --mean 0.4 -o m6.h5
check std-zero 2 "--std" -- "${FIT[@]}" --std 0 -o m7.h5
check augment 0 "wrote m8.h5" -- "${FIT[@]}" --augment hflip,vflip,rotate=5,brightness=0.1,contrast,crop=2 -o m8.h5
check augment-value 2 "--augment rotate" -- "${FIT[@]}" --augment rotate=500 -o m9.h5
check augment-name 2 "unknown 'twirl' (hflip, vflip, flip" -- "${FIT[@]}" --augment twirl -o m9.h5
check augment-flag-value 2 "unknown 'hflip=3'" -- "${FIT[@]}" --augment hflip=3 -o m9.h5
exit $fail
