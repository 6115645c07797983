#!/usr/bin/env bash
# run_logits.sh: the arm64 `sl-offload run` (under qemu-user) computes the logits of the native
# build: on a tensor file of 6 random tinycnn inputs, every logit within 1e-4 of the native one,
# relative to the largest |logit| (1e-4 absolute when they are below 1), and the same top-1
# class for every row. Both builds use Debian's libtorch 1.13.1, but the float kernels differ
# (x86-64 AVX2 vs. aarch64 NEON; summation orders differ), so bit-identity is not expected; 1e-4
# is about 800 ulp at |logit| 1 (measured: ~1e-7). Images on arm64 (decoding, resizing,
# normalising) are compared by device_edge.sh.
source "$(dirname "$0")/lib.sh"
arm64_fixtures

py "$W" <<'PY'
import sys, h5py, numpy as np
rng = np.random.default_rng(21)
with h5py.File(sys.argv[1] + "/in.h5", "w") as f:
    f["input"] = rng.standard_normal((6, 3, 32, 32)).astype(np.float32)
PY

"$OFF" run --model "$W/m.h5" --tensor "$W/in.h5" -o "$W/native.h5" 2>"$W/native.log" \
    || { cat "$W/native.log"; fail "native run --tensor"; }
t0=$SECONDS
arm64 sl-offload run --model "$W/m.h5" --tensor "$W/in.h5" --threads 1 -o "$W/arm64.h5" \
    2>"$W/arm64.log" || { cat "$W/arm64.log"; fail "arm64 run --tensor"; }
pass "arm64 run --tensor under qemu took $((SECONDS - t0)) s"

py "$W" <<'PY'
import sys, h5py, numpy as np
w = sys.argv[1]
a = h5py.File(w + "/native.h5", "r")["output"][()]
b = h5py.File(w + "/arm64.h5", "r")["output"][()]
assert a.shape == b.shape == (6, a.shape[1]) and a.shape[1] >= 2, (a.shape, b.shape)
assert np.isfinite(a).all() and np.isfinite(b).all()
assert float(np.abs(a).max()) > 0, "all logits are zero: nothing to compare"
scale = max(1.0, float(np.abs(a).max()))
diff = float(np.abs(a - b).max())
assert diff <= 1e-4 * scale, f"max |native - arm64| = {diff:.3g} > {1e-4 * scale:.3g}"
assert (a.argmax(1) == b.argmax(1)).all(), (a.argmax(1), b.argmax(1))
print(f"ok: {a.shape[0]}x{a.shape[1]} logits, max |native - arm64| = {diff:.3g} "
      f"(bound {1e-4 * scale:.3g}), same top-1 for every row")
PY
pass "arm64 run gives the native logits"
