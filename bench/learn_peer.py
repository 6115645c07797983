"""learn_peer.py: does a torchvision architecture learn a product line from scratch? The PyTorch
peer of `sl-train fit` for the question docs/benchmarks.md ("Default line") asks of the
real-size line: the same images (an sl-data folder with train/ and val/), the same input
normalisation (mean 0.5, std 0.25, one gray channel), batch 32, and after each epoch the
training accuracy and the validation accuracy in inference mode; at the end, the validation
accuracy again after recomputing every batch norm's statistics over the training set.

usage: /usr/bin/python3 bench/learn_peer.py DATA ARCH LR EPOCHS [sgd]
  ARCH: mobilenet_v2 or resnet18 (first convolution made 1-channel); LR: Adam's (or SGD's with
  Nesterov momentum 0.9 and weight decay 4e-5 when the fifth argument is "sgd").
"""
import glob
import sys
import time

import numpy as np
import torch
import torchvision
from PIL import Image


def load(root, split, classes):
    xs, ys = [], []
    for ci, c in enumerate(classes):
        for p in sorted(glob.glob(f"{root}/{split}/{c}/*.png")):
            xs.append((np.asarray(Image.open(p).convert("L"), dtype=np.float32) / 255 - 0.5) / 0.25)
            ys.append(ci)
    return torch.from_numpy(np.stack(xs))[:, None], torch.tensor(ys)


def model(arch, classes):
    m = getattr(torchvision.models, arch)(num_classes=classes)
    if arch == "mobilenet_v2":
        m.features[0][0] = torch.nn.Conv2d(1, 32, 3, 2, 1, bias=False)
    else:
        m.conv1 = torch.nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    return m


def main():
    root, arch, lr, epochs = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    torch.manual_seed(1)
    torch.set_num_threads(2)
    classes = sorted(p.rstrip("/").split("/")[-1] for p in glob.glob(f"{root}/train/*/"))
    xt, yt = load(root, "train", classes)
    xv, yv = load(root, "val", classes)
    m = model(arch, len(classes))
    if len(sys.argv) > 5 and sys.argv[5] == "sgd":
        opt = torch.optim.SGD(m.parameters(), lr, momentum=0.9, nesterov=True, weight_decay=4e-5)
    else:
        opt = torch.optim.Adam(m.parameters(), lr)
    for ep in range(epochs):
        m.train()
        perm, right, t0 = torch.randperm(len(yt)), 0, time.time()
        for i in range(0, len(yt), 32):
            idx = perm[i:i + 32]
            opt.zero_grad()
            out = m(xt[idx])
            torch.nn.functional.cross_entropy(out, yt[idx]).backward()
            opt.step()
            right += (out.argmax(1) == yt[idx]).sum().item()
        m.eval()
        with torch.no_grad():
            val = (m(xv).argmax(1) == yv).float().mean().item()
        print(f"epoch {ep + 1}: train {right / len(yt):.3f} val {val:.3f} "
              f"({len(yt) / (time.time() - t0):.1f} images/s)", flush=True)
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.reset_running_stats()
            mod.momentum = None
    m.train()
    with torch.no_grad():
        for i in range(0, len(yt), 32):
            m(xt[i:i + 32])
    m.eval()
    with torch.no_grad():
        val = (m(xv).argmax(1) == yv).float().mean().item()
    print(f"after recomputing batch-norm statistics over the training set: val {val:.3f}")


if __name__ == "__main__":
    main()
