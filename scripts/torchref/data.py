"""MNIST IDX files: read, normalize as ToTensor + Normalize, checksum."""

import gzip
import hashlib
import os
import struct

import torch

from .common import MEAN, STD

# --------------------------------------------------------------------------
# MNIST IDX
# --------------------------------------------------------------------------

def read_idx(path):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rb") as f:
        raw = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError("%s: unsupported IDX header" % path)
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(raw[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


def find_file(data_dir, stem):
    for cand in (stem + ".gz", stem):
        p = os.path.join(data_dir, cand)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(os.path.join(data_dir, stem + ".gz"))


def load_split(data_dir, prefix):
    imgs = read_idx(find_file(data_dir, prefix + "-images-idx3-ubyte"))
    labels = read_idx(find_file(data_dir, prefix + "-labels-idx1-ubyte"))
    # ToTensor(): uint8 -> float32 / 255 ; Normalize: (x - mean) / std, in float32
    x = imgs.to(torch.float32).div(255)
    x = x.sub(MEAN).div(STD).reshape(-1, 784).contiguous()
    y = labels.to(torch.int64)
    return x, y


def file_md5(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()
