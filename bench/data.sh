#!/bin/bash
# data.sh: data loading benchmark: bench_data (folder and cache) beside torchvision's
# ImageFolder + DataLoader (bench/data_peer.py) on the same synthetic folder, same run.
# usage: bench/data.sh [BUILD_DIR] [PER_CLASS] [SOURCE_SIZE] [png|jpeg]
# jpeg: the rendered PNGs are re-encoded by PIL as JPEG (quality 90) and the PNGs removed, so
# both sides decode JPEG (ours through libjpeg-turbo's TurboJPEG, PIL through libjpeg-turbo).
set -eu
BUILD=${1:-build}
PER=${2:-500}
SRC_SIZE=${3:-128}
FORMAT=${4:-png}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${SL_PYTHON:-/usr/bin/python3}
WORK=$(mktemp -d /tmp/sl-bench-data.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

"$BUILD/bin/sl-data" synth --product pcb --out "$WORK/pcb" --size "$SRC_SIZE" \
    --per-class "$PER" --splits none --seed 1 2>/dev/null
N=$((PER * 4))
if [ "$FORMAT" = jpeg ]; then
    "$PY" - "$WORK/pcb" <<'PYEOF'
import glob, os, sys
from PIL import Image
for p in glob.glob(os.path.join(sys.argv[1], "*", "*.png")):
    Image.open(p).save(p[:-4] + ".jpg", quality=90)
    os.remove(p)
PYEOF
fi
echo "# $N RGB ${SRC_SIZE}x${SRC_SIZE} $FORMAT files (pcb), 2 threads / workers, batch 32" >&2
"$BUILD/bench/bench_data" "$WORK/pcb" --threads 2 --batch 32 --min-images "$N" --work "$WORK" \
    | tee "$WORK/ours.jsonl"
"$PY" "$HERE/data_peer.py" "$WORK/pcb" --workers 2 --batch 32 --min-images "$N" \
    | tee "$WORK/peer.jsonl"
"$PY" - "$WORK/ours.jsonl" "$WORK/peer.jsonl" <<'PYEOF'
import json, sys
ours = [json.loads(l) for l in open(sys.argv[1])]
peer = {r["size"]: r for r in map(json.loads, open(sys.argv[2]))}
print("| source | size | images/s | x torchvision | CPU ms / image | x less CPU |")
print("|---|---|---|---|---|---|")
for r in ours:
    p = peer[r["size"]]
    print(f"| sl {r['source']} | {r['size']} | {r['images_per_s']:.0f} | "
          f"{r['images_per_s'] / p['images_per_s']:.1f}x | {r['cpu_ms_per_image']:.3f} | "
          f"{p['cpu_ms_per_image'] / r['cpu_ms_per_image']:.1f}x |")
for s, r in sorted(peer.items()):
    print(f"| torchvision ImageFolder+DataLoader | {s} | {r['images_per_s']:.0f} | 1.0x | "
          f"{r['cpu_ms_per_image']:.3f} | 1.0x |")
PYEOF
