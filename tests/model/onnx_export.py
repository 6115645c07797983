"""The PyTorch side of the ONNX tests, in one process (importing torch and torchvision once
costs about as much as a small model's whole check): every model named is built with seed 0,
given non-trivial batch-norm statistics and exported with torch.onnx, with a batch-2 input and
PyTorch's output on it, for onnx_parity.py (and onnx_toolchain.sh) to check against.

usage: onnx_export.py OUT ARCH:OPSET[:HxW] ... [toolchain]
  OUT/ARCH_OPSET/ gets model.onnx, in.h5 (/input), ref.h5 (/output) and export.txt (the export
  time); "toolchain" writes OUT/toolchain/m.onnx, the 4-class SECNN onnx_toolchain.sh imports.
"""
import os
import sys
import time

import h5py
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parity import randomise_batch_norms  # noqa: E402

CLASSES = 5


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


def export(arch, opset, h, w, folder):
    """Exports arch at opset for h x w input into folder, with the input and PyTorch's output."""
    os.makedirs(folder, exist_ok=True)
    torch.manual_seed(0)
    model = build(arch)
    randomise_batch_norms(model)
    model.eval()
    t0 = time.time()
    torch.onnx.export(model, torch.randn(1, 3, h, w), os.path.join(folder, "model.onnx"),
                      opset_version=opset, input_names=["image"], output_names=["logits"])
    t_export = time.time() - t0
    x = torch.randn(2, 3, h, w)
    with torch.no_grad():
        ref = model(x).numpy()
    with h5py.File(os.path.join(folder, "in.h5"), "w") as f:
        f["input"] = x.numpy()
    with h5py.File(os.path.join(folder, "ref.h5"), "w") as f:
        f["output"] = ref
    with open(os.path.join(folder, "export.txt"), "w") as f:
        f.write(f"{t_export:.2f}\n")
    print(f"{arch} opset {opset} {h}x{w}: exported in {t_export:.2f} s")


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    for case in sys.argv[2:]:
        if case == "toolchain":
            os.makedirs(os.path.join(out, "toolchain"), exist_ok=True)
            torch.manual_seed(0)
            m = SECNN(4).eval()
            torch.onnx.export(m, torch.randn(1, 3, 32, 32),
                              os.path.join(out, "toolchain", "m.onnx"), opset_version=13,
                              input_names=["image"], output_names=["logits"])
            print("toolchain: SECNN(4) exported at opset 13")
            continue
        parts = case.split(":")
        arch, opset = parts[0], int(parts[1])
        h, w = (int(v) for v in (parts[2] if len(parts) > 2 else "64x64").split("x"))
        export(arch, opset, h, w, os.path.join(out, f"{arch}_{opset}"))


if __name__ == "__main__":
    main()
