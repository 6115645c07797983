#!/usr/bin/env bash
# run_logits.sh: the arm64 `sl-offload run` (under qemu-user) computes the logits of the native
# build: on a tensor file of tinycnn inputs, every logit within 1e-4 of the native one, relative
# to the largest |logit| (or 1e-4 absolute when they are small); the same top-1 class for each
# row; and on images (PNG decoding, resizing, normalising on arm64) the same class per file and
# scores within 1e-4. Both builds use Debian's libtorch 1.13.1, but the float kernels differ
# (x86-64 AVX2 vs. aarch64 NEON), so bit-identity is not expected; 1e-4 is ~100 ulp at |logit| 1.
source "$(dirname "$0")/lib.sh"
make_fixtures 1

py "$W" <<'PY'
import sys, h5py, numpy as np
rng = np.random.default_rng(21)
with h5py.File(sys.argv[1] + "/in.h5", "w") as f:
    f["input"] = rng.standard_normal((6, 3, 32, 32)).astype(np.float32)
PY

"$OFF" run --model "$W/m.h5" --tensor "$W/in.h5" -o "$W/native.h5" 2>"$W/native.log" \
    || { cat "$W/native.log"; fail "native run --tensor"; }
t0=$SECONDS
arm64 sl-offload run --model "$W/m.h5" --tensor "$W/in.h5" -o "$W/arm64.h5" 2>"$W/arm64.log" \
    || { cat "$W/arm64.log"; fail "arm64 run --tensor"; }
pass "arm64 run --tensor under qemu took $((SECONDS - t0)) s"

"$OFF" run --model "$W/m.h5" --images "$W/data" -o "$W/native.jsonl" 2>/dev/null \
    || fail "native run --images"
arm64 sl-offload run --model "$W/m.h5" --images "$W/data" -o "$W/arm64.jsonl" 2>"$W/arm64-img.log" \
    || { cat "$W/arm64-img.log"; fail "arm64 run --images"; }

py "$W" <<'PY'
import json, sys, h5py, numpy as np
w = sys.argv[1]
a = h5py.File(w + "/native.h5", "r")["output"][()]
b = h5py.File(w + "/arm64.h5", "r")["output"][()]
assert a.shape == b.shape == (6, a.shape[1]) and a.shape[1] >= 2, (a.shape, b.shape)
assert np.isfinite(a).all() and np.isfinite(b).all()
scale = max(1.0, float(np.abs(a).max()))
diff = float(np.abs(a - b).max())
assert diff <= 1e-4 * scale, f"max |native - arm64| = {diff:.3g} > {1e-4 * scale:.3g}"
assert (a.argmax(1) == b.argmax(1)).all(), (a.argmax(1), b.argmax(1))
print(f"ok: tensor: {a.shape[0]}x{a.shape[1]} logits, max |native - arm64| = {diff:.3g} "
      f"(bound {1e-4 * scale:.3g}), same top-1 for every row")

def rows(name):
    return {r["file"]: r for r in map(json.loads, open(f"{w}/{name}"))}
n, m = rows("native.jsonl"), rows("arm64.jsonl")
assert len(n) >= 2 and n.keys() == m.keys(), (sorted(n), sorted(m))
worst = 0.0
for k in n:
    assert "error" not in n[k] and "error" not in m[k], (n[k], m[k])
    assert n[k]["class_index"] == m[k]["class_index"], (k, n[k], m[k])
    worst = max(worst, abs(n[k]["score"] - m[k]["score"]))
assert worst <= 1e-4, worst
print(f"ok: images: {len(n)} files, same class, max score difference {worst:.3g}")
PY
pass "arm64 run gives the native logits"
