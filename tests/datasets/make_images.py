"""make_images.py OUT: writes JPEG, BMP and PNG files with PIL (Debian's python3-pil, the
reference decoder) into OUT, each with NAME.ref holding PIL's decoded pixels (interleaved uint8,
mode "L" for files PIL opens as gray, else converted to "RGB"), and OUT/manifest.txt with one
line per file: NAME FORMAT W H C. Then damaged copies of a JPEG (truncated at several points, a
missing end, header-only, a broken Huffman table) as bad-*.jpg, for the decoder to refuse.

The pictures are smooth gradients plus noise plus sharp edges, so both the DCT's rounding and
chroma upsampling are exercised; sizes include 1x1, odd and non-multiple-of-16 sizes."""
import os
import struct
import sys

import numpy as np
from PIL import Image

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(15)
manifest = []


def picture(w, h, c):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    chans = []
    for k in range(c):
        v = 128 + 90 * np.sin(x / (3 + 2 * k) + y / 7.0) + rng.normal(0, 18, (h, w))
        v[(x > w / 3) & (y > h / 2)] = 30 + 80 * k  # a sharp-edged block
        chans.append(v)
    a = np.clip(np.stack(chans, -1), 0, 255).astype(np.uint8)
    return a[:, :, 0] if c == 1 else a


def record(name, fmt):
    im = Image.open(os.path.join(out, name))
    im = im if im.mode == "L" else im.convert("RGB")
    a = np.asarray(im)
    c = 1 if a.ndim == 2 else 3
    open(os.path.join(out, name + ".ref"), "wb").write(a.tobytes())
    manifest.append("%s %s %d %d %d" % (name, fmt, im.width, im.height, c))


# JPEG: colour with each chroma subsampling, qualities low to high, progressive, gray,
# optimised Huffman tables, odd sizes.
jpegs = [
    ("q95-444.jpg", (64, 64, 3), dict(quality=95, subsampling=0)),
    ("q75-420.jpg", (64, 64, 3), dict(quality=75, subsampling=2)),
    ("q50-422.jpg", (53, 37, 3), dict(quality=50, subsampling=1)),
    ("q90-420-odd.jpg", (301, 199, 3), dict(quality=90, subsampling=2)),
    ("q85-prog.jpg", (120, 90, 3), dict(quality=85, progressive=True)),
    ("q80-opt.jpg", (33, 65, 3), dict(quality=80, optimize=True)),
    ("gray-q90.jpg", (48, 40, 1), dict(quality=90)),
    ("gray-prog.jpg", (17, 29, 1), dict(quality=70, progressive=True)),
    ("one-pixel.jpg", (1, 1, 3), dict(quality=90)),
    ("q20-420.jpg", (28, 28, 3), dict(quality=20)),
]
for name, (w, h, c), kw in jpegs:
    Image.fromarray(picture(w, h, c)).save(os.path.join(out, name), "JPEG", **kw)
    record(name, "JPEG")

# BMP: 24-bit, 8-bit gray palette (PIL opens it as "L"), 8-bit colour palette, 32-bit,
# odd widths (rows padded to 4 bytes), and a top-down one (negative height) written by hand.
rgb = picture(53, 37, 3)
Image.fromarray(rgb).save(os.path.join(out, "rgb24.bmp"))
record("rgb24.bmp", "BMP")
Image.fromarray(picture(31, 9, 1)).save(os.path.join(out, "gray8.bmp"))
record("gray8.bmp", "BMP")
Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE, colors=40).save(
    os.path.join(out, "pal8.bmp"))
record("pal8.bmp", "BMP")
Image.fromarray(np.dstack([rgb, rgb[:, :, :1]]), "RGBA").save(os.path.join(out, "rgba32.bmp"))
record("rgba32.bmp", "BMP")
w, h = 7, 5
td = picture(w, h, 3)
stride = (w * 3 + 3) & ~3
rows = b"".join(td[y, :, ::-1].tobytes() + b"\0" * (stride - w * 3) for y in range(h))
hdr = struct.pack("<2sIHHI", b"BM", 54 + len(rows), 0, 0, 54)
dib = struct.pack("<IiiHHIIiiII", 40, w, -h, 1, 24, 0, len(rows), 2835, 2835, 0, 0)
open(os.path.join(out, "topdown.bmp"), "wb").write(hdr + dib + rows)
record("topdown.bmp", "BMP")

# PNG beside them, and a JPEG named .png (the format is told by the bytes, not the name).
Image.fromarray(picture(40, 30, 3)).save(os.path.join(out, "control.png"))
record("control.png", "PNG")
Image.fromarray(picture(40, 30, 3)).save(os.path.join(out, "jpeg-named.png"), "JPEG", quality=85)
record("jpeg-named.png", "JPEG")

open(os.path.join(out, "manifest.txt"), "w").write("\n".join(manifest) + "\n")

# Damaged JPEGs.
good = open(os.path.join(out, "q90-420-odd.jpg"), "rb").read()
sos = good.index(b"\xff\xda")
dht = good.index(b"\xff\xc4")
bad = {
    "bad-half.jpg": good[: len(good) // 2],
    "bad-no-eoi.jpg": good[:-2],
    "bad-cut-in-scan.jpg": good[: sos + 40],
    "bad-header-only.jpg": good[:sos],
    "bad-magic-only.jpg": good[:3],
    "bad-huffman.jpg": good[: dht + 4] + b"\xff" * 17 + good[dht + 21:],
}
for name, data in bad.items():
    open(os.path.join(out, name), "wb").write(data)
# a BMP that claims more pixels than the file holds, and a 1-bit BMP (not supported)
open(os.path.join(out, "bad-short.bmp"), "wb").write(
    open(os.path.join(out, "rgb24.bmp"), "rb").read()[:200])
Image.fromarray(rgb).convert("1").save(os.path.join(out, "bad-1bit.bmp"))
