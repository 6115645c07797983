#!/usr/bin/env python3
"""vgg19_profiles.py: writes a three-tier VGG19 example for `sl-preprocess select` and
bench/scission_predict.py: device.json, edge.json and cloud.json (sl-profile version 1, as
tests/preprocessor/data) and net.csv (Scission's network file).

Scission's own VGG19 example is benchmark data pickled in .dat files that are not in this tree,
so this example is made, not measured: torchvision's VGG19 layer by layer (every conv, ReLU,
pool and linear is a node and a cut, 44 layers at 3x224x224, with its true output size), and
each layer's time its multiply-accumulates divided by a rate per tier (device 2, edge 20, cloud
100 GMAC/s; ReLU, pool and flatten by their element counts). Serialisation is made free so that
the latency is the one Scission models: compute + ping + bytes / bandwidth.

    /usr/bin/python3 bench/vgg19_profiles.py OUT_DIR
"""
import json
import os
import sys

RATES = {"device": 2e9, "edge": 20e9, "cloud": 100e9}  # multiply-accumulates per second
NET = "source,destination,ping(ms),bandwidth(Mbps)\ndevice,edge,20,10\nedge,cloud,5,100\n"
CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
       512, 512, 512, 512, "M"]


def layers():
    """(name, op, output elements, MACs) for VGG19 at 3x224x224."""
    c, h, out = 3, 224, []
    for i, v in enumerate(CFG):
        if v == "M":
            h //= 2
            out.append((f"pool{len(out)}", "max_pool2d", c * h * h, c * h * h * 4))
        else:
            out.append((f"conv{len(out)}", "conv2d", v * h * h, v * h * h * c * 9))
            c = v
            out.append((f"relu{len(out)}", "relu", c * h * h, c * h * h))
    out.append(("avgpool", "adaptive_avg_pool2d", c * 7 * 7, c * 7 * 7))
    out.append(("flatten", "flatten", c * 7 * 7, 1))
    n = c * 7 * 7
    for k, m in enumerate([4096, 4096, 1000]):
        out.append((f"fc{k + 1}", "linear", m, n * m))
        if k < 2:
            out.append((f"fc{k + 1}_relu", "relu", m, m))
        n = m
    return out


def profile(tier):
    ls = layers()
    nodes, cuts, blocks = [], [], []
    cuts.append({"index": 0, "tensor": "image", "node_index": -1, "shape": [3 * 224 * 224],
                 "bytes": 3 * 224 * 224 * 4, "tl": []})
    prev = "image"
    for i, (name, op, elems, macs) in enumerate(ls):
        t = macs / RATES[tier]
        nodes.append({"index": i, "name": name, "op": op, "inputs": [prev], "out_shape": [elems],
                      "out_bytes": elems * 4, "median_s": t})
        cuts.append({"index": i + 1, "tensor": name, "node_index": i, "shape": [elems],
                     "bytes": elems * 4, "tl": []})
        blocks.append({"index": i, "from_cut": i, "to_cut": i + 1, "first_node": i,
                       "last_node": i, "median_s": t, "p10_s": t, "p90_s": t})
        prev = name
    total = sum(n["median_s"] for n in nodes)
    return {"format": "sl-profile", "version": 1, "model": "vgg19", "graph_hash": "b" * 64,
            "host": tier, "cpu": f"made: {RATES[tier] / 1e9:g} GMAC/s", "threads": 1,
            "batch": 1, "date": "2026-12-04T00:00:00Z", "warmup": 0, "repeats": 1,
            "input": {"name": "image", "shape": [3, 224, 224], "bytes": 3 * 224 * 224 * 4,
                      "raw_bytes": 3 * 224 * 224},
            "total": {"median_s": total, "p10_s": total, "p90_s": total},
            "block_sum_s": total, "gap_s": 0, "serialise_bytes_per_s": 1e15,
            "nodes": nodes, "cuts": cuts, "blocks": blocks}


def main():
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for tier in RATES:
        with open(os.path.join(out, f"{tier}.json"), "w") as f:
            json.dump(profile(tier), f, indent=1)
    with open(os.path.join(out, "net.csv"), "w") as f:
        f.write(NET)


if __name__ == "__main__":
    main()
