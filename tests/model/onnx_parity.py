"""ONNX import parity with PyTorch: a model (torchvision's, or onnx_export.py's hand-written CNN
with squeeze-excite blocks, branches and every op the importer translates), exported with
torch.onnx by onnx_export.py (the test fixture model/onnx_export, one process for every model),
is imported with `sl-preprocess import --onnx`, and both run on the same batch-2 input in eval
mode. Checks: the logits of `sl-offload run` agree to 1e-4 relative; labels, mean and std given
at import are in the bundle; onnx_check (C) agrees on the compiled path with and without
batch-norm folding and node by node through the op table, and a split at a single C x H x W cut
equals the whole.

With --in-process, onnx_check itself gives the model the labels, mean and std, writes the bundle,
reads it back (with the run command's check) and writes the read-back model's logits, instead of
`sl-preprocess import` and `sl-offload run`: the same files get the same checks, with one libtorch
start instead of three (about 2 s of CPU less per model). tests/model/CMakeLists.txt keeps one
model on the command-line path.

usage: onnx_parity.py ONNX_CHECK EXPORTS ARCH OPSET [--in-process]   (run from a scratch folder;
SL_BIN names the built commands; EXPORTS is onnx_export.py's OUT, holding ARCH_OPSET/)
"""
import json
import os
import subprocess
import sys
import time

import h5py
import numpy as np

BIN = os.environ["SL_BIN"]
CLASSES = 5
TOL = 1e-4


def run(*args):
    r = subprocess.run(list(args), capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout + r.stderr)
        sys.exit(f"{' '.join(os.path.basename(a) for a in args[:2])} failed with {r.returncode}")
    return r.stdout


def main():
    check, exports, arch, opset = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    in_process = sys.argv[5:] == ["--in-process"]
    src = os.path.join(exports, f"{arch}_{opset}")
    onnx, x_h5, ref_h5 = (os.path.join(src, f) for f in ("model.onnx", "in.h5", "ref.h5"))
    with h5py.File(ref_h5, "r") as f:
        ref = f["output"][()]
    t_export = float(open(os.path.join(src, "export.txt")).read())
    failed = checks = 0

    def verdict(ok, text):
        nonlocal failed, checks
        checks += 1
        failed += not ok
        print(f"{arch} opset {opset}: {text} {'ok' if ok else 'FAIL'}")

    for f in ("model.h5", "out.h5"):  # a previous run's files must not stand in for this one's
        if os.path.exists(f):
            os.remove(f)
    labels = ",".join(f"class{i}" for i in range(CLASSES))
    norm = ["--mean", "0.485,0.456,0.406", "--std", "0.229,0.224,0.225"]
    t0 = time.time()
    if in_process:
        r = subprocess.run([check, onnx, x_h5, ref_h5, str(TOL), "--bundle", "model.h5",
                            "--labels", labels, *norm, "-o", "out.h5"],
                           capture_output=True, text=True)
    else:
        run(os.path.join(BIN, "sl-preprocess"), "import", "--onnx", onnx, "--labels", labels,
            *norm, "-o", "model.h5")
    t_import = time.time() - t0
    if in_process and not os.path.exists("out.h5"):
        print(r.stdout + r.stderr)
        sys.exit(f"onnx_check failed with {r.returncode} before writing the logits")
    with h5py.File("model.h5", "r") as f:
        cfg = json.loads(f["model_config"][()])
    verdict(cfg["classes"] == labels.split(",") and
            np.allclose(cfg["input"]["mean"], [0.485, 0.456, 0.406]) and
            np.allclose(cfg["input"]["std"], [0.229, 0.224, 0.225]),
            "labels, mean and std kept in the bundle")
    if not in_process:
        run(os.path.join(BIN, "sl-offload"), "run", "--model", "model.h5", "--tensor", x_h5,
            "-o", "out.h5")
    with h5py.File("out.h5", "r") as f:
        out = f["output"][()]
    rel = float(np.abs(out - ref).max() / max(np.abs(ref).max(), 1e-12))
    verdict(out.shape == ref.shape and rel <= TOL,
            f"{'the bundle read back, run' if in_process else 'sl-offload run'}: shape {out.shape}, max relative error {rel:.2e} (<= {TOL:.0e})")
    if not in_process:
        r = subprocess.run([check, onnx, x_h5, ref_h5, str(TOL)], capture_output=True, text=True)
    for line in r.stdout.splitlines():
        print(f"{arch} opset {opset}: {line}")
    verdict(r.returncode == 0, "onnx_check (compiled, unfolded, plain, split)" + (": " + r.stderr.strip() if r.stderr else ""))
    what = "import, bundle and all checks (in process)" if in_process else "import"
    print(f"{arch}: export {t_export:.2f} s, {what} {t_import:.2f} s, {len(cfg['nodes'])} nodes")
    print(f"{checks - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
