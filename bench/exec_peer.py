"""Inference latency of the same architecture in PyTorch: eager under torch.inference_mode, and
TorchScript frozen + optimize_for_inference. Prints one JSON line per implementation.
usage: exec_peer.py ARCH BATCH THREADS [REPEATS] [--min-seconds S] [--serve] [--graph]
A round is 2 warm-up runs (1 in later rounds) and REPEATS timed runs, or more until S seconds
have passed, as in bench_exec. With --serve the models are built once and each line read from
stdin runs one more round (so that a driver can interleave rounds with other implementations
under the same load).
With --graph it prints TorchScript's optimised graph and exits (compare with our executor's:
SL_EXEC_DUMP=graph bench_exec MODEL.h5 ...)."""
import json
import statistics
import sys
import time

import torch
import torchvision


def timed(fn, x, repeats, warmup, min_seconds):
    for _ in range(warmup):
        fn(x)
    ts = []
    start = time.perf_counter()
    while len(ts) < repeats or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn(x)
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return statistics.median(ts), ts[int(0.9 * (len(ts) - 1))], ts[0], len(ts)


def main():
    argv = sys.argv[1:]
    min_seconds = 0.0
    if "--min-seconds" in argv:
        k = argv.index("--min-seconds")
        min_seconds = float(argv[k + 1])
        del argv[k:k + 2]
    args = [a for a in argv if a not in ("--serve", "--graph")]
    serve = "--serve" in argv
    arch, batch, threads = args[0], int(args[1]), int(args[2])
    repeats = int(args[3]) if len(args) > 3 else 20
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)(num_classes=1000).eval()
    x = torch.randn(batch, 3, 224, 224)
    with torch.no_grad():
        ts = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.script(model)))
    if "--graph" in sys.argv:
        print(ts.graph)
        return
    impls = [("pytorch-eager", model, torch.inference_mode), ("torchscript-frozen", ts, torch.no_grad)]
    warmup = 2  # the graph executor profiles the first call and optimises on the second
    for _ in sys.stdin if serve else [None]:
        for name, fn, mode in impls:
            with mode():
                med, p90, best, n = timed(fn, x, repeats, warmup, min_seconds)
            print(json.dumps({"impl": name, "model": arch, "batch": batch, "threads": threads,
                              "repeats": n, "median_ms": med * 1e3, "p90_ms": p90 * 1e3,
                              "min_ms": best * 1e3}),
                  flush=True)
        warmup = 1


if __name__ == "__main__":
    main()
