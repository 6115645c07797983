#!/usr/bin/python3
"""train_peer.py: the PyTorch side of bench/train.sh — the same training loop as bench_train.

Builds the model of an sl-bundle (graph JSON + weights, read with h5py) as a PyTorch module that
interprets the graph, and times SGD steps on in-memory data of the same shapes:
  base       full forward and backward, cross entropy
  tl-stage1  input -> cut under no_grad (frozen, eval-mode batch norm), then cut -> decoder_out
             with grad, MSE against the cut activation; the tail is not run
  tl-stage2  input -> wire under no_grad, then wire -> logits with grad, cross entropy
so both sides get the frozen-prefix saving; the loop is what a careful PyTorch user writes.

usage: /usr/bin/python3 bench/train_peer.py MODEL.h5 [--tl-stage N] [--batch N] [--steps N]
                                            [--threads N] [--data DIR --epochs N --workers N]
Prints one JSON line like bench_train.
With --data (base training only) it runs whole epochs instead, as `sl-train fit --data DIR` does:
DIR/train through torchvision's ImageFolder and a shuffling DataLoader with --workers loader
processes (sl-train's --workers, default 2), normalised with the bundle's mean and std, then
DIR/val evaluated under no_grad; it prints the last epoch's training and validation seconds.
"""
import argparse
import json
import time

import h5py
import torch
import torch.nn.functional as F


def pair(v, d):
    if v is None:
        return (d, d)
    return (v, v) if isinstance(v, int) else tuple(v)


class Graph(torch.nn.Module):
    def __init__(self, path):
        super().__init__()
        with h5py.File(path, "r") as f:
            self.g = json.loads(f["model_config"][()])
            w = f["model_weights"]
            self.params = torch.nn.ParameterDict()
            self.stats = {}
            for n in self.g["nodes"]:
                if n["name"] not in w:
                    continue
                for p, ds in w[n["name"]].items():
                    t = torch.from_numpy(ds[()]).float()
                    key = n["name"].replace(".", "_") + "__" + p
                    if p in ("running_mean", "running_var"):
                        self.register_buffer(key, t)
                    else:
                        self.params[key] = torch.nn.Parameter(t)
        self.nodes = self.g["nodes"]
        self.byname = {n["name"]: i for i, n in enumerate(self.nodes)}
        self.eval_nodes = set()

    def p(self, n, name):
        key = n["name"].replace(".", "_") + "__" + name
        if key in self.params:
            return self.params[key]
        return getattr(self, key, None)

    def node(self, n, xs, train):
        a = n.get("attrs", {})
        op = n["op"]
        if op == "conv2d":
            return F.conv2d(xs[0], self.p(n, "weight"), self.p(n, "bias"), pair(a.get("stride"), 1),
                            pair(a.get("pad"), 0), pair(a.get("dil"), 1), a.get("groups", 1))
        if op == "conv_transpose2d":
            s, pd = pair(a.get("stride"), 1), pair(a.get("pad"), 0)
            k = pair(a.get("k"), 1)
            oh = pair(a.get("out_hw"), 0)
            op_ = [0, 0]
            for d in range(2):
                base = (xs[0].shape[2 + d] - 1) * s[d] - 2 * pd[d] + k[d]
                op_[d] = oh[d] - base if oh[d] else 0
            return F.conv_transpose2d(xs[0], self.p(n, "weight"), self.p(n, "bias"), s, pd,
                                      tuple(op_), a.get("groups", 1), pair(a.get("dil"), 1))
        if op == "batch_norm":
            tr = train and n["name"] not in self.eval_nodes
            return F.batch_norm(xs[0], self.p(n, "running_mean"), self.p(n, "running_var"),
                                self.p(n, "weight"), self.p(n, "bias"), tr,
                                a.get("momentum", 0.1), a.get("eps", 1e-5))
        if op == "relu":
            return F.relu(xs[0])
        if op == "relu6":
            return F.relu6(xs[0])
        if op == "hardswish":
            return F.hardswish(xs[0])
        if op == "sigmoid":
            return torch.sigmoid(xs[0])
        if op == "max_pool":
            return F.max_pool2d(xs[0], pair(a.get("k"), 1), pair(a.get("stride"), a.get("k")),
                                pair(a.get("pad"), 0), ceil_mode=bool(a.get("ceil_mode", 0)))
        if op == "avg_pool":
            return F.avg_pool2d(xs[0], pair(a.get("k"), 1), pair(a.get("stride"), a.get("k")),
                                pair(a.get("pad"), 0))
        if op == "adaptive_avg_pool":
            return F.adaptive_avg_pool2d(xs[0], pair(a.get("out_hw"), 1))
        if op == "flatten":
            return torch.flatten(xs[0], 1)
        if op == "linear":
            return F.linear(xs[0], self.p(n, "weight"), self.p(n, "bias"))
        if op == "add":
            return xs[0] + xs[1]
        if op == "concat":
            return torch.cat(xs, 1)
        if op == "dropout":
            return F.dropout(xs[0], a.get("p", 0.5), train)
        if op == "upsample":
            return F.interpolate(xs[0], size=pair(a.get("out_hw"), 0), mode="nearest")
        if op == "quantize":
            x = xs[0]
            lo, hi = min(x.min().item(), 0.0), max(x.max().item(), 0.0)
            scale = (hi - lo) / 255 or 1.0
            zp = int(min(255, max(0, round(-lo / scale))))
            return torch.fake_quantize_per_tensor_affine(x, scale, zp, 0, 255)
        if op == "dequantize":
            return xs[0]
        raise ValueError("op " + op)

    def run(self, given, targets, train):
        need = set(targets)
        for n in reversed(self.nodes):
            if n["name"] in need and n["name"] not in given:
                need.update(n["inputs"])
        vals = dict(given)
        for n in self.nodes:
            if n["name"] in need and n["name"] not in vals:
                vals[n["name"]] = self.node(n, [vals[i] for i in n["inputs"]], train)
        return [vals[t] for t in targets]


def ancestors(g, name):
    out = {name}
    for n in reversed(g.nodes):
        if n["name"] in out:
            out.update(n["inputs"])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--tl-stage", type=int, default=0)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    g = Graph(a.model)
    inp = g.g["input"]
    c, h, w = inp["shape"]
    x = torch.randn(a.batch, c, h, w)
    classes = None
    for n in g.nodes:
        if n["name"] == g.g["outputs"][0]:
            classes = n["attrs"]["out"]
    y = torch.arange(a.batch) % classes
    tl = g.g.get("tl", {})
    frozen = set()
    if a.tl_stage == 1:
        frozen = {n["name"] for n in g.nodes if not n.get("role", "").startswith("tl_")}
        start, boundary, targets = inp["name"], tl["cut"], [tl["decoder_out"]]
    elif a.tl_stage == 2:
        frozen = ancestors(g, tl["wire"])
        start, boundary, targets = inp["name"], tl["wire"], g.g["outputs"]
    else:
        boundary, targets = None, g.g["outputs"]
    g.eval_nodes = frozen
    trainable = []
    for k, p in g.params.items():
        node = k.split("__")[0]
        fz = any(n["name"].replace(".", "_") == node for n in g.nodes if n["name"] in frozen)
        p.requires_grad_(not fz)
        if not fz:
            trainable.append(p)
    opt = torch.optim.SGD(trainable, lr=0.01, momentum=0.9)

    def step():
        if boundary:
            with torch.no_grad():
                b, = g.run({start: x}, [boundary], False)
            outs = g.run({boundary: b}, targets, True)
        else:
            outs = g.run({inp["name"]: x}, targets, True)
        if a.tl_stage == 1:
            loss = F.mse_loss(outs[0], b)
        else:
            loss = F.cross_entropy(outs[0], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    if a.data:
        return epochs(a, g, inp, opt)
    for _ in range(2):
        step()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(a.steps):
        loss = step()
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    mode = ["base", "tl-stage1", "tl-stage2"][a.tl_stage]
    print(json.dumps({"impl": "pytorch", "mode": mode, "size": h, "batch": a.batch,
                      "threads": a.threads, "steps": a.steps, "seconds": round(secs, 4),
                      "images_per_s": round(a.steps * a.batch / secs, 2),
                      "cpu_ms_per_image": round(1000 * cpu / (a.steps * a.batch), 3),
                      "loss": round(loss, 5)}))


def epochs(a, g, inp, opt):
    """Whole epochs from image files (base training), as sl-train fit runs them."""
    import torchvision
    c, h, w = inp["shape"]
    tf = torchvision.transforms.Compose([
        torchvision.transforms.Grayscale(c) if c == 1 else torchvision.transforms.Lambda(
            lambda im: im.convert("RGB")),
        torchvision.transforms.Resize((h, w)),
        torchvision.transforms.ToTensor(),
        torchvision.transforms.Normalize(inp.get("mean", [0.0] * c), inp.get("std", [1.0] * c))])
    sets = {k: torchvision.datasets.ImageFolder("%s/%s" % (a.data, k), tf) for k in ("train", "val")}
    loaders = {k: torch.utils.data.DataLoader(d, batch_size=a.batch, shuffle=k == "train",
                                              num_workers=a.workers, drop_last=False)
               for k, d in sets.items()}
    name, out = inp["name"], g.g["outputs"]
    t_all, c_all = time.perf_counter(), time.process_time()
    for _ in range(a.epochs):
        g.train()
        t0 = time.perf_counter()
        seen = 0
        for x, y in loaders["train"]:
            loss = F.cross_entropy(g.run({name: x}, out, True)[0], y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            seen += len(y)
        t1 = time.perf_counter()
        g.eval()
        correct = 0
        with torch.no_grad():
            for x, y in loaders["val"]:
                correct += int((g.run({name: x}, out, False)[0].argmax(1) == y).sum())
        t2 = time.perf_counter()
    print(json.dumps({"impl": "pytorch", "mode": "epoch", "size": h, "batch": a.batch,
                      "threads": a.threads, "workers": a.workers, "epochs": a.epochs,
                      "train_images": seen, "train_seconds": round(t1 - t0, 3),
                      "val_seconds": round(t2 - t1, 3),
                      "seconds_per_epoch": round((t2 - t_all) / a.epochs, 3),
                      "cpu_seconds_per_epoch": round((time.process_time() - c_all) / a.epochs, 3),
                      "val_acc": round(correct / len(sets["val"]), 4)}))


if __name__ == "__main__":
    main()
