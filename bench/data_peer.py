#!/usr/bin/python3
"""data_peer.py: the peer of bench_data: torchvision ImageFolder + DataLoader doing the same work
(decode PNG, resize to SxS, to tensor, normalise, batch) on the same folder.

usage: /usr/bin/python3 bench/data_peer.py DIR [--workers 2] [--batch 32] [--min-images N]
Prints one JSON object per line, in bench_data's format, with "source": "torchvision".
"""
import argparse
import json
import resource
import time

import torch
import torchvision
from torchvision import transforms


def run(root, size, workers, batch, min_images):
    tf = transforms.Compose([
        transforms.Resize((size, size)), transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    ds = torchvision.datasets.ImageFolder(root, tf)
    g = torch.Generator().manual_seed(1)
    # workers end with each epoch, so their CPU time shows up in RUSAGE_CHILDREN
    dl = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers,
                                     generator=g)
    n, sink = 0, 0.0
    c0 = time.process_time() + children_cpu()
    t0 = time.time()
    while n < min_images:
        for x, _ in dl:
            n += len(x)
            sink += float(x[0, 0, 0, 0])
    dt = time.time() - t0
    cpu = time.process_time() + children_cpu() - c0
    return {"source": "torchvision", "size": size, "threads": workers, "images": n,
            "seconds": round(dt, 3), "images_per_s": round(n / dt, 1),
            "cpu_ms_per_image": round(cpu * 1e3 / n, 3)}


def children_cpu():
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--min-images", type=int, default=2000)
    a = ap.parse_args()
    torch.set_num_threads(1)
    for size in (64, 224):
        print(json.dumps(run(a.root, size, a.workers, a.batch, a.min_images)), flush=True)


if __name__ == "__main__":
    main()
