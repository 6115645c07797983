"""Numerical parity with PyTorch/torchvision: a randomly initialised torchvision model's
state_dict is exported to HDF5, imported with `sl-preprocess import`, and both run on the same
input in eval mode; outputs must agree to 1e-5 relative, with and without batch-norm folding.

usage: parity.py ARCH [HxW]   (run from a scratch folder; SL_BIN names the built commands)
"""
import os
import subprocess
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn
import torchvision

BIN = os.environ["SL_BIN"]
CLASSES = 5


class TinyCNN(nn.Module):
    """The zoo's tinycnn written in PyTorch with the same parameter names."""

    def __init__(self, classes):
        super().__init__()
        widths = [16, 32, 64]
        cin = 3
        for i, w in enumerate(widths, 1):
            setattr(self, f"conv{i}", nn.Conv2d(cin, w, 3, padding=1, bias=False))
            setattr(self, f"bn{i}", nn.BatchNorm2d(w))
            cin = w
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        for i in range(1, 4):
            x = torch.relu(getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(x)))
            if i < 3:
                x = torch.max_pool2d(x, 2, 2)
        x = torch.flatten(torch.max_pool2d(x, (x.shape[2], x.shape[3])), 1)
        return self.fc(x)


def randomise_batch_norms(model):
    """Non-trivial batch-norm statistics and affine terms, so that folding is really exercised
    (fresh ones are the identity). Shared with onnx_parity.py."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)


def build(arch):
    if arch == "tinycnn":
        return TinyCNN(CLASSES)
    return getattr(torchvision.models, arch)(num_classes=CLASSES)


def main():
    arch = sys.argv[1]
    h, w = (int(v) for v in (sys.argv[2] if len(sys.argv) > 2 else "64x64").split("x"))
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = build(arch)
    randomise_batch_norms(model)
    model.eval()
    with h5py.File("sd.h5", "w") as f:
        for k, v in model.state_dict().items():
            f[k] = v.numpy()
    x = torch.randn(2, 3, h, w)
    with h5py.File("in.h5", "w") as f:
        f["input"] = x.numpy()
    with torch.no_grad():
        ref = model(x).numpy()

    def run(*args):
        r = subprocess.run([os.path.join(BIN, args[0]), *args[1:]], capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stderr)
            sys.exit(f"{' '.join(args[:2])} failed with {r.returncode}")

    run("sl-preprocess", "import", "--state-dict", "sd.h5", "--arch", arch, "--input",
        f"3x{h}x{w}", "-o", "model.h5")
    failed = 0
    checks = 0
    for fold in (True, False):
        args = ["sl-offload", "run", "--model", "model.h5", "--tensor", "in.h5", "-o", "out.h5"]
        if not fold:
            args.append("--no-fold")
        run(*args)
        with h5py.File("out.h5", "r") as f:
            out = f["output"][()]
        rel = float(np.abs(out - ref).max() / max(np.abs(ref).max(), 1e-12))
        ok = out.shape == ref.shape and rel <= 1e-5
        checks += 1
        failed += not ok
        print(f"{arch} {h}x{w} fold={fold}: shape {out.shape} max relative error {rel:.2e} "
              f"{'ok' if ok else 'FAIL'}")
    print(f"{checks - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
