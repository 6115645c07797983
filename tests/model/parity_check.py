"""The C side of the parity check, without torch: a torchvision model's state_dict exported by
parity.py (sd.h5, with the input in.h5 and PyTorch's output ref.h5) is imported with
`sl-preprocess import` and run with `sl-offload run`, with and without batch-norm folding;
outputs must agree to 1e-5 relative.

usage: parity_check.py EXPORTS ARCH [HxW] [--in-process PARITY_INPROC]
(run from a scratch folder; SL_BIN names the built commands; EXPORTS is the folder
`parity.py export` wrote, holding ARCH_HxW/). With --in-process, the same import and the same
two runs are done by that program (parity_inproc.c) in one process, the weights kept in memory:
for vgg11, whose 515 MB would otherwise be read, written, checked and read again several times,
and for the resnets whose ops resnet18's command-line check covers (tests/model/CMakeLists.txt).
"""
import os
import subprocess
import sys

import h5py
import numpy as np

TOL = 1e-5


def case_dir(exports, arch, h, w):
    """Where `parity.py export` puts arch at h x w."""
    return os.path.join(exports, f"{arch}_{h}x{w}")


def check(src, arch, h, w):
    """Imports src/sd.h5 as arch at h x w and runs it on src/in.h5 (folded and not) against
    src/ref.h5 in the current folder; prints a line per check and returns the failure count."""
    bin_dir = os.environ["SL_BIN"]
    with h5py.File(os.path.join(src, "ref.h5"), "r") as f:
        ref = f["output"][()]

    def run(*args):
        r = subprocess.run([os.path.join(bin_dir, args[0]), *args[1:]], capture_output=True,
                           text=True)
        if r.returncode != 0:
            print(r.stderr)
            sys.exit(f"{' '.join(args[:2])} failed with {r.returncode}")

    run("sl-preprocess", "import", "--state-dict", os.path.join(src, "sd.h5"), "--arch", arch,
        "--input", f"3x{h}x{w}", "-o", "model.h5")
    failed = 0
    checks = 0
    for fold in (True, False):
        args = ["sl-offload", "run", "--model", "model.h5", "--tensor", os.path.join(src, "in.h5"),
                "-o", "out.h5"]
        if not fold:
            args.append("--no-fold")
        run(*args)
        with h5py.File("out.h5", "r") as f:
            out = f["output"][()]
        rel = float(np.abs(out - ref).max() / max(np.abs(ref).max(), 1e-12))
        ok = out.shape == ref.shape and rel <= TOL
        checks += 1
        failed += not ok
        print(f"{arch} {h}x{w} fold={fold}: shape {out.shape} max relative error {rel:.2e} "
              f"{'ok' if ok else 'FAIL'}")
    print(f"{checks - failed} passed, {failed} failed")
    return failed


def check_in_process(prog, src, arch, h, w):
    """check() done by parity_inproc in one process; returns the failure count."""
    r = subprocess.run([prog, arch, f"{h}x{w}", *(os.path.join(src, f) for f in
                                                 ("sd.h5", "in.h5", "ref.h5")), str(TOL)])
    return 0 if r.returncode == 0 else 1


def main():
    args = sys.argv[1:]
    prog = None
    if "--in-process" in args:
        i = args.index("--in-process")
        prog = args[i + 1]
        del args[i:i + 2]
    exports, arch = args[0], args[1]
    h, w = (int(v) for v in (args[2] if len(args) > 2 else "64x64").split("x"))
    src = case_dir(exports, arch, h, w)
    failed = check_in_process(prog, src, arch, h, w) if prog else check(src, arch, h, w)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
