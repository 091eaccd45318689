#!/usr/bin/python3
"""PyTorch reference for the MNIST MLP (the PyTorch tutorial model).

Run with the Debian system python that has torch (python3-torch):

    /usr/bin/python3 scripts/torch_reference.py --data /work/shared/mnist --epochs 1

Model: l1..l5 = nn.Linear with sizes from --layers (default 784,512,256,128,64,10),
ReLU after l1..l4, none after l5.  Loss: nn.CrossEntropyLoss() (mean).
Optimizer: torch.optim.SGD(lr, momentum).  Inputs: (x/255 - 0.1307)/0.3081,
flattened to 784.  Everything is float32 (torch default dtype).

The IDX .gz files are read directly (gzip + struct, no torchvision) and held
in memory as tensors; batches are sliced from those tensors (no DataLoader).
Shuffling reproduces DataLoader(shuffle=True)'s random stream exactly: per
epoch, the DataLoader iterator first draws a base seed from the global RNG,
then RandomSampler draws a seed from the global RNG, seeds a fresh
torch.Generator with it and takes torch.randperm(N, generator=g).

Weights are read/written as safetensors (written by hand here: the
safetensors package is not needed) with PyTorch names l1.weight [out, in],
l1.bias [out], ..., all F32.

Only numpy and torch are used.
"""

import argparse
import gzip
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN = 0.1307
STD = 0.3081


# --------------------------------------------------------------------------
# safetensors (minimal, F32 only)
# --------------------------------------------------------------------------

def save_safetensors(path, tensors, metadata=None):
    """tensors: ordered dict name -> float32 torch tensor."""
    header = {}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        arr = t.detach().cpu().contiguous().numpy().astype("<f4", copy=False)
        data = arr.tobytes(order="C")
        header[name] = {
            "dtype": "F32",
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    pad = (8 - len(hjson) % 8) % 8
    hjson += b" " * pad
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
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
        if info["dtype"] != "F32":
            raise ValueError("%s: only F32 supported, got %s" % (name, info["dtype"]))
        b, e = info["data_offsets"]
        arr = np.frombuffer(raw[base + b:base + e], dtype="<f4").reshape(info["shape"])
        out[name] = torch.from_numpy(arr.astype(np.float32))
    return out, header.get("__metadata__", {})


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
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    return data.reshape(dims)


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
    x = torch.from_numpy(imgs.copy()).to(torch.float32).div(255)
    x = x.sub(MEAN).div(STD).reshape(-1, 784).contiguous()
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


# --------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------

class Net(nn.Module):
    """l1..lN = nn.Linear(sizes[i], sizes[i+1]), ReLU after all but the last.
    With the default sizes this is exactly the tutorial's l1..l5 model
    (layers are created in order l1, l2, ... so the default init consumes
    the RNG in the same order)."""

    def __init__(self, sizes):
        super().__init__()
        self.n = len(sizes) - 1
        for i in range(self.n):
            setattr(self, "l%d" % (i + 1), nn.Linear(sizes[i], sizes[i + 1]))

    def forward(self, x):
        x = x.view(-1, self.l1.in_features)
        for i in range(1, self.n):
            x = F.relu(getattr(self, "l%d" % i)(x))
        return getattr(self, "l%d" % self.n)(x)


def state_tensors(model):
    return {k: v for k, v in model.state_dict().items()}


def evaluate(model, x, y, chunk=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, x.shape[0], chunk):
            out = model(x[i:i + chunk])
            pred = out.argmax(dim=1)
            correct += int((pred == y[i:i + chunk]).sum().item())
    model.train()
    return correct, x.shape[0]


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="/work/shared/mnist", help="dir with MNIST IDX (.gz) files")
    ap.add_argument("--layers", default="784,512,256,128,64,10")
    ap.add_argument("--init", help="load initial weights from this .safetensors")
    ap.add_argument("--save-init", help="write the initial weights to this .safetensors")
    ap.add_argument("--seed", type=int, default=1, help="torch.manual_seed (init and shuffling)")
    ap.add_argument("--steps", type=int, default=0, help="stop after K optimizer steps (0 = no limit)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--momentum", type=float, default=0.5)
    ap.add_argument("--no-shuffle", action="store_true",
                    help="batch i = samples [i*B, (i+1)*B) in file order, last partial batch kept")
    ap.add_argument("--save", help="write the weights after training to this .safetensors")
    ap.add_argument("--loss-log", help="write each step's loss (JSON array of numbers)")
    ap.add_argument("--eval", action="store_true",
                    help="evaluate on the test set even when --steps stops mid-epoch")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0 = leave)")
    ap.add_argument("--log-interval", type=int, default=300)
    args = ap.parse_args(argv)

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.set_default_dtype(torch.float32)

    sizes = [int(s) for s in args.layers.split(",")]
    if sizes[0] != 784:
        raise ValueError("first layer size must be 784")

    torch.manual_seed(args.seed)
    model = Net(sizes)
    if args.init:
        tensors, _ = load_safetensors(args.init)
        sd = model.state_dict()
        missing = set(sd) - set(tensors)
        extra = set(tensors) - set(sd)
        if missing or extra:
            raise ValueError("init mismatch: missing %s, unexpected %s" % (sorted(missing), sorted(extra)))
        for k in sd:
            if tuple(tensors[k].shape) != tuple(sd[k].shape):
                raise ValueError("%s: shape %s != %s" % (k, tuple(tensors[k].shape), tuple(sd[k].shape)))
        model.load_state_dict(tensors)

    meta_common = {
        "torch_version": torch.__version__,
        "layers": args.layers,
        "seed": args.seed,
        "init": os.path.basename(args.init) if args.init else "nn.Linear default (manual_seed)",
    }
    if args.save_init:
        save_safetensors(args.save_init, state_tensors(model), dict(meta_common, what="init"))

    x_train, y_train = load_split(args.data, "train")
    x_test, y_test = load_split(args.data, "t10k")
    n = x_train.shape[0]
    B = args.batch_size

    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    criterion = nn.CrossEntropyLoss()

    losses = []
    step = 0
    done = False
    model.train()
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        if args.no_shuffle:
            perm = None
        else:
            # Exactly what one `for batch in DataLoader(ds, shuffle=True)` epoch draws:
            # _BaseDataLoaderIter.__init__ draws _base_seed, then RandomSampler.__iter__
            # draws a seed for a fresh Generator and takes randperm(n).
            torch.empty((), dtype=torch.int64).random_().item()
            s = int(torch.empty((), dtype=torch.int64).random_().item())
            g = torch.Generator()
            g.manual_seed(s)
            perm = torch.randperm(n, generator=g)
        running = 0.0
        nbatches = (n + B - 1) // B
        for batch_idx in range(nbatches):
            if perm is None:
                xb = x_train[batch_idx * B:(batch_idx + 1) * B]
                yb = y_train[batch_idx * B:(batch_idx + 1) * B]
            else:
                idx = perm[batch_idx * B:(batch_idx + 1) * B]
                xb = x_train.index_select(0, idx)
                yb = y_train.index_select(0, idx)
            optimizer.zero_grad()
            out = model(xb)
            loss = criterion(out, yb)
            loss.backward()
            optimizer.step()
            step += 1
            lv = loss.item()
            losses.append(lv)
            running += lv
            if batch_idx % args.log_interval == args.log_interval - 1:
                print("[%d, %5d] loss: %.3f" % (epoch + 1, batch_idx + 1, running / args.log_interval))
                running = 0.0
            if args.steps and step >= args.steps:
                done = True
                break
        dt = time.perf_counter() - t0
        finished_epoch = not done or batch_idx == nbatches - 1
        print("epoch %d: %d steps, train time %.2f s" % (epoch + 1, batch_idx + 1, dt), file=sys.stderr)
        if finished_epoch or args.eval:
            correct, total = evaluate(model, x_test, y_test)
            print("Accuracy on test set: %d %%" % (100 * correct // total))
            print("(test: %d / %d correct = %.2f %%)" % (correct, total, 100.0 * correct / total), file=sys.stderr)
        if done:
            break

    if args.save:
        save_safetensors(args.save, state_tensors(model), dict(
            meta_common, what="after %d steps" % step, steps=step, batch_size=B, lr=args.lr,
            momentum=args.momentum, shuffle=not args.no_shuffle))
    if args.loss_log:
        d = os.path.dirname(os.path.abspath(args.loss_log))
        os.makedirs(d, exist_ok=True)
        with open(args.loss_log, "w") as f:
            # repr of a Python float holding the float32 value: round-trips exactly
            f.write("[" + ",\n".join(repr(float(v)) for v in losses) + "]\n")


if __name__ == "__main__":
    main()
