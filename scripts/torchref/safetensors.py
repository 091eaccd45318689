"""safetensors read/write (minimal: F32 and F64; Debian has no python3-safetensors)."""

import json
import os
import struct

import torch

# --------------------------------------------------------------------------
# safetensors (minimal: F32 and F64)
# --------------------------------------------------------------------------

ST_DTYPES = {torch.float32: ("F32", "f"), torch.float64: ("F64", "d")}
ST_TORCH = {"F32": torch.float32, "F64": torch.float64}


def save_safetensors(path, tensors, metadata=None):
    """tensors: ordered dict name -> float32 or float64 tensor (written as F32 / F64)."""
    header = {}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        code, fmt = ST_DTYPES[t.dtype]
        flat = t.reshape(-1).tolist()  # Python floats hold the float32/float64 values exactly
        data = struct.pack("<%d%s" % (len(flat), fmt), *flat)
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in ST_TORCH:
            raise ValueError("%s: only F32/F64 supported, got %s" % (name, info["dtype"]))
        b, e = info["data_offsets"]
        t = torch.frombuffer(bytearray(raw[base + b:base + e]), dtype=ST_TORCH[info["dtype"]])
        out[name] = t.reshape(info["shape"]).clone()
    return out, header.get("__metadata__", {})
