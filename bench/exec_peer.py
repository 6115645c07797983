"""Inference latency of the same architecture in PyTorch: eager under torch.inference_mode, and
TorchScript frozen + optimize_for_inference. Prints one JSON line per implementation.
usage: exec_peer.py ARCH BATCH THREADS [REPEATS]"""
import json
import statistics
import sys
import time

import torch
import torchvision


def timed(fn, x, repeats):
    for _ in range(5):
        fn(x)
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(x)
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return statistics.median(ts), ts[int(0.9 * (len(ts) - 1))]


def main():
    arch, batch, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    repeats = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)(num_classes=1000).eval()
    x = torch.randn(batch, 3, 224, 224)
    with torch.inference_mode():
        med, p90 = timed(model, x, repeats)
    print(json.dumps({"impl": "pytorch-eager", "model": arch, "batch": batch, "threads": threads,
                      "median_ms": med * 1e3, "p90_ms": p90 * 1e3}))
    with torch.no_grad():
        ts = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.script(model)))
        med, p90 = timed(ts, x, repeats)
    print(json.dumps({"impl": "torchscript-frozen", "model": arch, "batch": batch,
                      "threads": threads, "median_ms": med * 1e3, "p90_ms": p90 * 1e3}))


if __name__ == "__main__":
    main()
