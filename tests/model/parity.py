"""Numerical parity with PyTorch/torchvision, the PyTorch side: a randomly initialised
torchvision model's state_dict is exported to HDF5 with an input and PyTorch's output on it, in
eval mode; parity_check.py imports it with `sl-preprocess import`, runs it with `sl-offload run`
and compares (1e-5 relative, with and without batch-norm folding).

usage: parity.py export OUT ARCH[:HxW] ...   every model in one process (importing torch and
                                             torchvision costs more than a small model's check):
                                             OUT/ARCH_HxW/ gets sd.h5, in.h5 and ref.h5
       parity.py ARCH [HxW]                  export and check one model here (by hand, e.g. vgg16)
(run from a scratch folder; SL_BIN names the built commands)
"""
import os
import sys

import h5py
import torch
import torch.nn as nn
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parity_check  # noqa: E402

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


def export(arch, h, w, folder):
    """Writes folder/sd.h5 (arch's state_dict, seed 0, batch norms randomised), folder/in.h5 (a
    batch of two h x w images) and folder/ref.h5 (PyTorch's output on it, eval mode)."""
    os.makedirs(folder, exist_ok=True)
    torch.manual_seed(0)
    model = build(arch)
    randomise_batch_norms(model)
    model.eval()
    with h5py.File(os.path.join(folder, "sd.h5"), "w") as f:
        for k, v in model.state_dict().items():
            f[k] = v.numpy()
    x = torch.randn(2, 3, h, w)
    with h5py.File(os.path.join(folder, "in.h5"), "w") as f:
        f["input"] = x.numpy()
    with torch.no_grad():
        ref = model(x).numpy()
    with h5py.File(os.path.join(folder, "ref.h5"), "w") as f:
        f["output"] = ref
    print(f"{arch} {h}x{w}: exported")


def main():
    torch.set_num_threads(1)
    if sys.argv[1] == "export":
        out = sys.argv[2]
        for case in sys.argv[3:]:
            arch, _, size = case.partition(":")
            h, w = (int(v) for v in (size or "64x64").split("x"))
            export(arch, h, w, parity_check.case_dir(out, arch, h, w))
        return
    arch = sys.argv[1]
    h, w = (int(v) for v in (sys.argv[2] if len(sys.argv) > 2 else "64x64").split("x"))
    export(arch, h, w, ".")
    sys.exit(1 if parity_check.check(".", arch, h, w) else 0)


if __name__ == "__main__":
    main()
