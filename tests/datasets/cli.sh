#!/bin/bash
# cli.sh: sl-data end to end: synth -> check -> stats -> cache, exit codes 0/1/2, JSON outputs,
# and the cache read back by h5py (the format other tools rely on).
set -u
D="$SL_BIN/sl-data"
[ -x "$D" ] || { echo "sl-data not built"; exit 1; }
fail=0
ok() { if "$@"; then :; else echo "FAIL: $*"; fail=1; fi; }
# has FILE PATTERN...: each (grep) pattern matches a line of FILE.
has() { local f=$1 p; shift; for p in "$@"; do ok grep -q -- "$p" "$f"; done; }
rc_is() { local want=$1; shift; "$@" >out.txt 2>err.txt; local got=$?
          [ "$got" = "$want" ] || { echo "FAIL: exit $got (want $want): $*"; cat err.txt; fail=1; }; }
rm -rf work && mkdir work && cd work

rc_is 0 "$D" --help
ok grep -q "synth" out.txt
rc_is 0 "$D" synth --help
ok grep -q -- "--per-class" out.txt
rc_is 2 "$D"
rc_is 2 "$D" frobnicate
rc_is 2 "$D" synth --product casting
ok grep -q "sl-data: synth: missing -o/--out DIR" err.txt
rc_is 2 "$D" synth --out x --product widgets
ok grep -q "unknown product line 'widgets'" err.txt
rc_is 2 "$D" synth --out x --size 3
rc_is 2 "$D" synth --out x --splits 0.5,0.5

rc_is 0 "$D" synth --product casting --out cast --size 32 --per-class 12 --seed 3
ok test -f cast/manifest.json
ok test -f cast/train/porosity/porosity_00000.png
ok test -f cast/test/ok/ok_00011.png
rc_is 0 "$D" synth --product casting --out cast2 --size 32 --per-class 12 --seed 3 --threads 1
ok cmp -s cast/val/crack/crack_00008.png cast2/val/crack/crack_00008.png
rc_is 1 "$D" synth --product casting --out cast --size 32 --per-class 12
ok grep -q "already exists" err.txt

# a clean folder checks clean; stats add up and give a usable mean/std
rc_is 0 "$D" check cast
ok grep -q "48 images in 4 classes, 0 problems" out.txt
rc_is 0 "$D" stats cast -o stats.json
ok "$SL_PYTHON" - <<'EOF'
import json
s = json.load(open("stats.json"))
assert s["classes"] == ["crack", "flash", "ok", "porosity"], s["classes"]
assert s["counts"]["train"]["ok"] == 8 and s["counts"]["all"]["flash"] == 12, s["counts"]
assert s["sizes"] == [{"width": 32, "height": 32, "channels": 1, "count": 48}], s["sizes"]
assert s["mean_std_over"] == "train"
assert 0.05 < s["mean"][0] < 0.9 and s["mean"][0] == s["mean"][1] == s["mean"][2], s["mean"]
assert 0.02 < s["std"][0] < 0.5, s["std"]
EOF

# problems are listed by path, make check exit 1, and fail everything with --strict
printf 'not an image' > cast/train/ok/notes.png
head -c 200 cast/train/ok/ok_00000.png > cast/train/ok/cut.png
mkdir cast/val/empty
rc_is 1 "$D" check cast
has out.txt \
    "3 problems" \
    "problem: cast/train/ok/notes.png: not an image file (PNG, JPEG or BMP)" \
    "problem: cast/train/ok/cut.png: corrupt or truncated PNG" \
    "problem: cast/val/empty: empty class folder"
rc_is 1 "$D" check cast --json
ok "$SL_PYTHON" -c "import json,sys; r=json.load(open('out.txt')); assert len(r['problems'])==3 and r['count']==48, r"
rc_is 1 "$D" check cast --strict
ok grep -q "sl-data: check: cast/" err.txt
rc_is 0 "$D" stats cast   # bad files are skipped here too, and counted
ok "$SL_PYTHON" -c "import json; s=json.load(open('out.txt')); assert s['problems']==3 and s['count']==48, s"
rc_is 1 "$D" stats cast --strict
rc_is 1 "$D" check nowhere
ok grep -q "sl-data: check: nowhere: No such file or directory" err.txt
rc_is 2 "$D" check cast --layout weird

# the cache: skipped files are warned about, the file reads back in h5py
rc_is 0 "$D" cache cast -o cast.h5 --shape 3x24x24 --resize crop
ok grep -q "skipped cast/train/ok/notes.png" err.txt
ok grep -q "cached 48 of 48 images (3x24x24)" err.txt
rc_is 1 "$D" check cast.h5   # the source's problems travel with the cache
ok grep -q "cast.h5: cache, 48 images in 4 classes, 3 problems" out.txt
rc_is 1 "$D" cache cast -o strict.h5 --strict
ok test ! -e strict.h5
rc_is 2 "$D" cache cast
ok "$SL_PYTHON" - <<'EOF'
import h5py
f = h5py.File("cast.h5", "r")
assert f.attrs["format"] == "sl-data-cache" and f.attrs["format_version"] == 1
assert f["images"].shape == (48, 3, 24, 24) and f["images"].dtype == "uint8"
assert f["labels"].shape == (48,) and f["labels"].dtype == "int64"
assert [c.decode() if isinstance(c, bytes) else c for c in f["classes"][:]] == ["crack", "flash", "ok", "porosity"]
p = f["paths"][0]
assert (p.decode() if isinstance(p, bytes) else p).endswith(".png")
assert f["problems"].shape == (3, 2)
assert set(f["splits"][:]) == {0, 1, 2}
img = f["images"][0]
assert (img[0] == img[1]).all() and img.std() > 5   # gray source replicated, not blank
EOF
rc_is 0 "$D" stats cast.h5 --split val
ok "$SL_PYTHON" -c "import json; s=json.load(open('out.txt')); assert s['count']==8 and s['layout']=='cache', s"

# resampling matches PIL's bilinear resize (what torchvision's Resize does) to within rounding
rc_is 0 "$D" synth --product pcb --out pcb --size 50 --per-class 2 --splits none
for shape in 3x32x32 3x80x80 3x21x37; do
    rc_is 0 "$D" cache pcb -o "pcb-$shape.h5" --shape "$shape"
    ok "$SL_PYTHON" - "pcb-$shape.h5" <<'EOF'
import sys
import h5py
import numpy as np
from PIL import Image
f = h5py.File(sys.argv[1], "r")
_, c, h, w = f["images"].shape
worst = 0
for i in range(len(f["paths"])):
    p = f["paths"][i]
    p = p.decode() if isinstance(p, bytes) else p
    ref = np.asarray(Image.open(p).convert("RGB").resize((w, h), Image.BILINEAR), dtype=int)
    ours = f["images"][i].transpose(1, 2, 0).astype(int)
    worst = max(worst, int(np.abs(ref - ours).max()))
assert worst <= 2, f"{sys.argv[1]}: differs from PIL by up to {worst}"
EOF
done

# JPEG and BMP folders (issue 15): the casting line re-encoded by PIL; check and stats read them
# like PNG, and a folder with no readable image lists every problem (text and --json).
ok "$SL_PYTHON" - <<'EOF'
import glob, os
from PIL import Image
for p in sorted(glob.glob("cast2/*/*/*.png")):
    split, cls, name = p.split("/")[1:]
    for root, ext, kw in (("jpg", ".jpg", {"quality": 90}), ("bmp", ".bmp", {})):
        d = os.path.join(root, split, cls)
        os.makedirs(d, exist_ok=True)
        Image.open(p).save(os.path.join(d, name[:-4] + ext), **kw)
EOF
rc_is 0 "$D" check jpg
ok grep -q "jpg: imagefolder-split, 48 images in 4 classes, 0 problems" out.txt
rc_is 0 "$D" check bmp
ok grep -q "bmp: imagefolder-split, 48 images in 4 classes, 0 problems" out.txt
rc_is 0 "$D" stats jpg
ok "$SL_PYTHON" -c "import json; s=json.load(open('out.txt')); assert s['count']==48 and s['sizes'][0]['channels']==1, s"
mkdir -p broken/a broken/b
printf 'GIF89a' > broken/a/x.gif
head -c 100 jpg/train/ok/ok_00000.jpg > broken/a/cut.jpg
head -c 100 bmp/train/ok/ok_00000.bmp > broken/b/cut.bmp
rc_is 1 "$D" check broken
has out.txt \
    "broken: imagefolder, 0 images in 0 classes, 5 problems" \
    "problem: broken/a/x.gif: not an image file (PNG, JPEG or BMP)" \
    "problem: broken/a/cut.jpg: corrupt JPEG" \
    "problem: broken/b: empty class folder (no readable image)" \
    "problem: broken/b/cut.bmp: unsupported or corrupt BMP"
ok grep -q "no readable image (PNG, JPEG or BMP) in any class folder" err.txt
rc_is 1 "$D" check broken --json
ok "$SL_PYTHON" -c "import json; r=json.load(open('out.txt')); assert r['count']==0 and len(r['problems'])==5, r"
rc_is 1 "$D" stats broken
ok grep -q "5 problems, the first: broken/a/cut.jpg: corrupt JPEG" err.txt
ok grep -q "sl-data check broken" err.txt
# the progress line ends at the count done, not "0% (0/N)"
rc_is 0 "$D" stats cast2
ok grep -q "reading: 100% (48/48)" err.txt

exit $fail
