#!/usr/bin/env python3
"""fuzz_seeds.py DIR: writes valid sl-offload frames (docs/protocol.md) as a seed corpus for
sl-fuzz-frame, so the fuzzer starts past the magic and CRC checks."""
import os
import struct
import sys
import zlib


def frame(mtype, payload=b"", req=1, pair=bytes(16), version=1):
    head = b"SLOF" + struct.pack("<BBHQ16sI", version, mtype, 0, req, pair, len(payload))
    return head + struct.pack("<I", zlib.crc32(head + payload) & 0xFFFFFFFF) + payload


def tensor(dtype, dims, data, scale=1.0, zp=0):
    head = struct.pack("<BBBBfi", dtype, len(dims), 0, 0, scale, zp)
    head += b"".join(struct.pack("<I", d) for d in dims)
    return head + struct.pack("<QQ", len(data), len(data)) + data


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    f32 = tensor(1, [1, 4], struct.pack("<4f", 1, 2, 3, 4))
    u8 = tensor(2, [2, 3], bytes(range(6)), 0.5, 3)
    seeds = {
        "hello": frame(1, struct.pack("<HH", 1, 1), req=0),
        "auth": frame(3, bytes(64), req=0),
        "infer_f32": frame(5, f32, pair=bytes(range(16))),
        "infer_u8": frame(5, u8, req=2),
        "result": frame(6, struct.pack("<QQ", 1000, 2000) + f32),
        "error": frame(7, struct.pack("<HH", 4, 0) + b"unknown pair id"),
        "deploy": frame(8, struct.pack("<Q", 3) + bytes(32)) + frame(9, b"abc") + frame(10),
        "ping_pong": frame(14, b"x") + frame(15, b"x"),
        "version2": frame(5, f32, version=2),
        "handshake": frame(1, struct.pack("<HH", 1, 1), req=0) + frame(3, bytes(64), req=0),
        "tensor_only": f32,
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as fh:
            fh.write(data)


if __name__ == "__main__":
    main()
