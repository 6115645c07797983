"""ONNX import parity with PyTorch: a model (torchvision's, or a hand-written CNN with squeeze-
excite blocks, branches and every op the importer translates) is exported with torch.onnx,
imported with `sl-preprocess import --onnx`, and both run on the same batch-2 input in eval mode.
Checks: the logits of `sl-offload run` agree to 1e-4 relative; labels, mean and std given at
import are in the bundle; onnx_check (C) agrees on the compiled path with and without batch-norm
folding and node by node through the op table, and a split at a single C x H x W cut equals the
whole.

usage: onnx_parity.py ONNX_CHECK ARCH OPSET [HxW]   (run from a scratch folder; SL_BIN names the
built commands)
"""
import json
import os
import subprocess
import sys
import time

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parity import randomise_batch_norms  # noqa: E402

BIN = os.environ["SL_BIN"]
CLASSES = 5
TOL = 1e-4


class SE(nn.Module):
    """Squeeze-excite: global pool, two 1x1 convs, a gate, a channel-wise product."""

    def __init__(self, c, gate):
        super().__init__()
        self.fc1 = nn.Conv2d(c, c // 4, 1)
        self.fc2 = nn.Conv2d(c // 4, c, 1)
        self.gate = gate

    def forward(self, x):
        w = F.adaptive_avg_pool2d(x, 1)
        w = self.gate(self.fc2(F.relu(self.fc1(w))))
        return x * w


class SECNN(nn.Module):
    """A small CNN that uses every translated op: two branches, channel shuffle, grouped and
    depthwise conv, SE blocks (sigmoid and hardsigmoid gates), chunk, pad, clip, standalone
    batch norm, pools of each kind, dropout, gemm, and a residual add."""

    def __init__(self, classes):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6())
        self.dw = nn.Sequential(nn.Conv2d(16, 16, 3, 1, 1, groups=16, bias=False), nn.BatchNorm2d(16),
                                nn.Hardswish())
        self.pw = nn.Sequential(nn.Conv2d(16, 16, 1, bias=False), nn.BatchNorm2d(16), nn.SiLU())
        self.mix = nn.BatchNorm2d(32)
        self.group = nn.Conv2d(32, 32, 3, 1, 1, groups=4)
        self.se1 = SE(32, nn.Sigmoid())
        self.side = nn.Conv2d(16, 16, 3, 1, 1)
        self.padconv = nn.Conv2d(32, 32, 2)
        self.se2 = SE(32, nn.Hardsigmoid())
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(32 * 2, classes)

    def forward(self, x):
        x = self.stem(x)
        x = torch.cat([self.dw(x), self.pw(x)], 1)
        x = self.mix(x)
        n, c, h, w = x.shape
        x = x.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)
        x = torch.clamp(self.group(x), -1.0, 3.0)
        x = self.se1(x)
        a, b = x.chunk(2, dim=1)
        x = torch.cat([a, F.relu(self.side(b))], 1) + x
        x = self.padconv(F.pad(x, (1, 0, 1, 0)))
        x = F.max_pool2d(x, 3, 2, 1)
        x = self.se2(F.avg_pool2d(x, 2, ceil_mode=True))
        m = x.mean([2, 3])
        g = F.adaptive_max_pool2d(x, 1).flatten(1)
        return self.fc(self.drop(torch.cat([m, g], 1)))


def build(arch):
    if arch == "secnn":
        return SECNN(CLASSES)
    kw = {"aux_logits": False, "init_weights": True} if arch == "googlenet" else {}
    return getattr(torchvision.models, arch)(num_classes=CLASSES, **kw)


def run(*args):
    r = subprocess.run(list(args), capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout + r.stderr)
        sys.exit(f"{' '.join(os.path.basename(a) for a in args[:2])} failed with {r.returncode}")
    return r.stdout


def main():
    check, arch, opset = sys.argv[1], sys.argv[2], int(sys.argv[3])
    h, w = (int(v) for v in (sys.argv[4] if len(sys.argv) > 4 else "64x64").split("x"))
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = build(arch)
    randomise_batch_norms(model)
    model.eval()
    t0 = time.time()
    torch.onnx.export(model, torch.randn(1, 3, h, w), "model.onnx", opset_version=opset,
                      input_names=["image"], output_names=["logits"])
    t_export = time.time() - t0
    x = torch.randn(2, 3, h, w)
    with torch.no_grad():
        ref = model(x).numpy()
    with h5py.File("in.h5", "w") as f:
        f["input"] = x.numpy()
    with h5py.File("ref.h5", "w") as f:
        f["output"] = ref
    failed = checks = 0

    def verdict(ok, text):
        nonlocal failed, checks
        checks += 1
        failed += not ok
        print(f"{arch} opset {opset}: {text} {'ok' if ok else 'FAIL'}")

    labels = ",".join(f"class{i}" for i in range(CLASSES))
    t0 = time.time()
    run(os.path.join(BIN, "sl-preprocess"), "import", "--onnx", "model.onnx", "--labels", labels,
        "--mean", "0.485,0.456,0.406", "--std", "0.229,0.224,0.225", "-o", "model.h5")
    t_import = time.time() - t0
    with h5py.File("model.h5", "r") as f:
        cfg = json.loads(f["model_config"][()])
    verdict(cfg["classes"] == labels.split(",") and
            np.allclose(cfg["input"]["mean"], [0.485, 0.456, 0.406]) and
            np.allclose(cfg["input"]["std"], [0.229, 0.224, 0.225]),
            "labels, mean and std kept in the bundle")
    run(os.path.join(BIN, "sl-offload"), "run", "--model", "model.h5", "--tensor", "in.h5", "-o",
        "out.h5")
    with h5py.File("out.h5", "r") as f:
        out = f["output"][()]
    rel = float(np.abs(out - ref).max() / max(np.abs(ref).max(), 1e-12))
    verdict(out.shape == ref.shape and rel <= TOL,
            f"sl-offload run: shape {out.shape}, max relative error {rel:.2e} (<= {TOL:.0e})")
    r = subprocess.run([check, "model.onnx", "in.h5", "ref.h5", str(TOL)], capture_output=True, text=True)
    for line in r.stdout.splitlines():
        print(f"{arch} opset {opset}: {line}")
    verdict(r.returncode == 0, "onnx_check (compiled, unfolded, plain, split)" + (": " + r.stderr.strip() if r.stderr else ""))
    print(f"{arch}: export {t_export:.2f} s, import {t_import:.2f} s, {len(cfg['nodes'])} nodes")
    print(f"{checks - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
