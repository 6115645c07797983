#!/usr/bin/env python3
"""scission_predict.py: the peer for `sl-preprocess select` in bench/select_vs_scission.sh — the
computation of Scission's prediction script (scission_predict.py, Lockhart et al.) written again
for our profile files, because Scission's script reads its own pickled benchmark files and is not
in this tree. Not Scission's code: the same algorithm, in the same language and with the same
kind of imports (standard library only), so that it starts and runs as that script does.

Scission's model: the layers are cut into at most three consecutive parts run on the device, the
edge and the cloud (any part may be empty); the latency is the compute of each part (the sum of
its layers' benchmarked times on that tier) plus, for every hop the data crosses, the hop's ping
plus the bytes crossing over its bandwidth. The raw image crosses when the device runs nothing.
Every split is enumerated, ranked by latency, and the fastest are printed.

    /usr/bin/python3 bench/scission_predict.py DEVICE.json EDGE.json CLOUD.json NET.csv [-n 5]
"""
import argparse
import csv
import json


def load(path):
    with open(path) as f:
        p = json.load(f)
    times = [b["median_s"] for b in p["blocks"]]  # block k runs from cut k to cut k + 1
    sizes = [p["input"]["raw_bytes"]] + [c["bytes"] for c in p["cuts"][1:]]
    names = [c["tensor"] for c in p["cuts"]]
    return p["model"], times, sizes, names


def network(path):
    hops = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            hops[(row["source"].strip(), row["destination"].strip())] = (
                float(row["ping(ms)"]) / 1e3, float(row["bandwidth(Mbps)"]) * 1e6)
    return hops


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for name in ("device", "edge", "cloud", "network"):
        ap.add_argument(name)
    ap.add_argument("-n", type=int, default=5, help="how many of the fastest to print")
    a = ap.parse_args()
    model, dev, sizes, names = load(a.device)
    edge, cloud = load(a.edge)[1], load(a.cloud)[1]
    hops = network(a.network)
    n = len(dev)

    def prefix(t):
        s = [0.0]
        for x in t:
            s.append(s[-1] + x)
        return s

    pd, pe, pc = prefix(dev), prefix(edge), prefix(cloud)

    def hop(key, nbytes):
        ping, bw = hops[key]
        return ping + nbytes * 8 / bw

    results = []
    for c1 in range(n + 1):  # the device runs blocks [0, c1)
        for c2 in range(c1, n + 1):  # the edge [c1, c2), the cloud [c2, n)
            t = pd[c1] + (pe[c2] - pe[c1]) + (pc[n] - pc[c2])
            if c1 < n:
                t += hop(("device", "edge"), sizes[c1])
            if c2 < n:
                t += hop(("edge", "cloud"), sizes[c2])
            results.append((t, c1, c2))
    results.sort()
    print(f"{model}: {len(results)} configurations")
    for i, (t, c1, c2) in enumerate(results[:a.n]):
        parts = [f"{tier} {lo}-{hi - 1}" for tier, lo, hi in
                 (("device", 0, c1), ("edge", c1, c2), ("cloud", c2, n)) if hi > lo]
        print(f"{i + 1:3d}. {t:.4f}s - {', '.join(parts)}")


if __name__ == "__main__":
    main()
