#!/usr/bin/env python3
"""state_dict.py: write a bundle's weights as a flat state_dict HDF5 (PyTorch key names), the
input of `sl-preprocess import --state-dict`. Used to carry weights trained at one input size
into a bundle declaring another (mobilenet_v2 and resnet are fully convolutional up to their
global pool, so the weights fit any size):

    bench/state_dict.py run-64px.h5 sd.h5
    sl-preprocess import --state-dict sd.h5 --arch mobilenet_v2 --input 1x128x128 \
        --labels crack,flash,ok,porosity -o start-128px.h5

usage: state_dict.py BUNDLE.h5 OUT.h5"""
import sys

import h5py

if len(sys.argv) != 3:
    sys.exit(__doc__.split("\n\n")[-1])
src, dst = sys.argv[1:]
with h5py.File(src, "r") as f, h5py.File(dst + ".tmp", "w") as out:
    if "model_weights" not in f:
        sys.exit(f"state_dict.py: {src}: no /model_weights group (not a model bundle)")
    n = 0

    def copy(name, obj):
        global n
        if isinstance(obj, h5py.Dataset):
            out[name.replace("/", ".")] = obj[()]
            n += 1

    f["model_weights"].visititems(copy)
import os

os.replace(dst + ".tmp", dst)
print(f"state_dict.py: {n} tensors from {src} to {dst}")
