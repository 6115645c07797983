#!/bin/bash
# image_sizes.sh: how a synthetic product line's images compress (docs/datasets.md, "How the
# casting images compress"): renders PER_CLASS images per class at each size with sl-data synth
# and prints, per size, the mean raw, PNG (as written) and zstd -3 / -19 bytes of the decoded
# pixels per image, in bytes and bits per pixel.
#
#   bench/image_sizes.sh [BUILD] [PRODUCT] [SIZES...]    defaults: build-main casting 128 300
#
# Environment: PER_CLASS (default 5), SEED (1), WORK (scratch folder). Needs zstd and python3.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build-main}
BUILD=$(cd "$BUILD" && pwd)
PRODUCT=${2:-casting}
shift $(( $# > 2 ? 2 : $# ))
SIZES=${*:-128 300}
WORK=${WORK:-$(mktemp -d /tmp/sl-bench-sizes.XXXXXX)}
cd "$WORK"
echo "# work folder $WORK; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for size in $SIZES; do
    d=$PRODUCT-$size
    [ -d "$d" ] || "$BUILD/bin/sl-data" synth --product "$PRODUCT" --size "$size" \
        --per-class "${PER_CLASS:-5}" --seed "${SEED:-1}" --splits none --out "$d" 2>/dev/null
    /usr/bin/python3 - "$d" <<'PYEOF'
# A PNG decoder for what sl-data synth writes (8-bit gray or RGB, not interlaced), in Python's
# zlib, so the zstd figures are of the exact pixels.
import glob, os, struct, subprocess, sys, zlib
def decode(path):
    d = open(path, "rb").read()
    p, idat = 8, b""
    while p < len(d):
        n, t = struct.unpack(">I4s", d[p:p + 8])
        c = d[p + 8:p + 8 + n]
        p += 12 + n
        if t == b"IHDR":
            w, h, depth, ct, _, _, interlace = struct.unpack(">IIBBBBB", c)
            if depth != 8 or ct not in (0, 2) or interlace:
                sys.exit(f"{path}: only 8-bit gray/RGB, not interlaced")
        elif t == b"IDAT":
            idat += c
    ch = 1 if ct == 0 else 3
    raw, stride, out = zlib.decompress(idat), w * ch, bytearray()
    prev = bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - ch] if i >= ch else 0
            b, c = prev[i], (prev[i - ch] if i >= ch else 0)
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out += line
        prev = line
    return bytes(out), w, h, ch
files = sorted(glob.glob(f"{sys.argv[1]}/*/*.png"))
tot = [0, 0, 0, 0]
for f in files:
    px, w, h, ch = decode(f)
    z = [len(subprocess.run(["zstd", lv, "-q", "-c"], input=px, capture_output=True, check=True).stdout)
         for lv in ("-3", "-19")]
    for i, v in enumerate((len(px), os.path.getsize(f), z[0], z[1])):
        tot[i] += v
n = len(files)
bpp = lambda v: 8 * v / tot[0]
print(f"| {w} x {h} x {ch} | {n} | {tot[0] / n:.0f} | {tot[1] / n:.0f} ({bpp(tot[1]):.2f}) | "
      f"{tot[2] / n:.0f} ({bpp(tot[2]):.2f}) | {tot[3] / n:.0f} ({bpp(tot[3]):.2f}) |")
PYEOF
done
