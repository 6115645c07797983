#!/usr/bin/python3
"""data_learn.py: how learnable a synthetic product line is, with Debian's torch/torchvision.

Trains a tiny CNN and a torchvision resnet18 (random init; nothing is downloaded) on the train
split of an `sl-data synth` folder at 64x64 and reports test accuracy, so docs/datasets.md can
record that the default line is neither trivial nor impossible.

usage: /usr/bin/python3 bench/data_learn.py DIR [--epochs-tiny N] [--epochs-resnet N]
                                              [--batch N] [--lr-resnet LR]
"""
import argparse
import json
import sys
import time

import torch
import torch.nn as nn
import torchvision
from torchvision import transforms


def loaders(root, size, batch):
    norm = transforms.Normalize([0.5] * 3, [0.25] * 3)
    train_tf = transforms.Compose([
        transforms.Grayscale(3), transforms.Resize((size, size)),
        transforms.RandomHorizontalFlip(), transforms.RandomVerticalFlip(),
        transforms.ToTensor(), norm])
    test_tf = transforms.Compose([
        transforms.Grayscale(3), transforms.Resize((size, size)), transforms.ToTensor(), norm])
    train = torchvision.datasets.ImageFolder(f"{root}/train", train_tf)
    test = torchvision.datasets.ImageFolder(f"{root}/test", test_tf)
    g = torch.Generator().manual_seed(0)
    return (torch.utils.data.DataLoader(train, batch_size=batch, shuffle=True, generator=g),
            torch.utils.data.DataLoader(test, batch_size=64), train.classes)


def tiny(nc):
    """Three conv blocks (16, 32, 64 channels, ~24k weights) and a global max pool, which suits
    small local defects better than averaging them away."""
    def block(i, o):
        return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(),
                nn.MaxPool2d(2)]
    return nn.Sequential(*block(3, 16), *block(16, 32), *block(32, 64),
                         nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(64, nc))


def evaluate(model, test):
    model.eval()
    right = total = 0
    with torch.no_grad():
        for x, y in test:
            right += (model(x).argmax(1) == y).sum().item()
            total += len(y)
    return right / total


def fit(model, train, test, epochs, lr):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    loss_fn = nn.CrossEntropyLoss()
    t0 = time.time()
    best = 0.0
    for _ in range(epochs):
        model.train()
        for x, y in train:
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
        sched.step()
        acc = evaluate(model, test)
        best = max(best, acc)
        print(f"  epoch {_ + 1}/{epochs}: test acc {acc:.3f} ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    return evaluate(model, test), best, time.time() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--epochs-tiny", type=int, default=15)
    ap.add_argument("--epochs-resnet", type=int, default=12)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr-resnet", type=float, default=1e-3)
    a = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    train, test, classes = loaders(a.root, a.size, a.batch)
    out = {"root": a.root, "classes": classes, "train": len(train.dataset),
           "test": len(test.dataset)}
    if a.epochs_tiny > 0:
        acc, best, dt = fit(tiny(len(classes)), train, test, a.epochs_tiny, 3e-3)
        out["tiny_cnn"] = {"epochs": a.epochs_tiny, "test_acc": round(acc, 4),
                           "best_epoch_acc": round(best, 4), "seconds": round(dt, 1)}
        print(json.dumps(out), flush=True)
    if a.epochs_resnet <= 0:
        return
    net = torchvision.models.resnet18(num_classes=len(classes))
    acc, best, dt = fit(net, train, test, a.epochs_resnet, a.lr_resnet)
    out["resnet18"] = {"epochs": a.epochs_resnet, "batch": a.batch, "lr": a.lr_resnet,
                       "test_acc": round(acc, 4),
                       "best_epoch_acc": round(best, 4), "seconds": round(dt, 1)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
