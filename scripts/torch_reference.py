#!/usr/bin/python3
"""PyTorch reference for the MNIST MLP (the PyTorch tutorial model).

Run with the Debian system python that has torch (python3-torch 1.13; another python3 on PATH
may lack torch):

    /usr/bin/python3 scripts/torch_reference.py --epochs 1            # MNIST from $MNIST_DIR, else data/mnist
    /usr/bin/python3 scripts/torch_reference.py --make-golden test/golden
    python3 scripts/torch_reference.py --device cuda --out $OUT/torch-cuda.jsonl   # GPU machine, torch 2.x

Three uses, one model and one set of rules:

1. Reference training (default): the tutorial loop on the CPU, printing its log and test accuracy;
   with --init/--save/--loss-log/--no-shuffle/--steps/--train-subset/--dtype it makes golden files.
2. --make-golden DIR: every optimizer/schedule golden case of test/golden/optimizers.json, in float32
   and float64, plus that manifest (test/golden/README.md says what is in it).
3. --device cuda (or --bench on the CPU): a timing run, 10 epochs of the seed workload by default,
   with the whole data set on the device and batches sliced there (shuffled per epoch with one
   gather), in two modes: eager, and the whole step (forward, loss, backward, optimizer step)
   captured once in a CUDA graph per batch size (static input/label buffers, capturable Adam/AdamW)
   and replayed. Both start from the same init and shuffle stream after an untimed warm-up; only
   training is timed (synchronized before each clock read). One JSON line per mode on stdout
   {device, torch, mode, epochs, seconds, per_step_us, test_acc, ...}, appended to --out as each
   mode finishes. The CPU runs the same code with --bench (mode eager).

Model: l1..lN = nn.Linear with sizes from --layers (default 784,512,256,128,64,10), ReLU after all
but the last.  Loss: nn.CrossEntropyLoss() (mean).  Inputs: (x/255 - 0.1307)/0.3081 in float32,
flattened to 784 (cast to float64 after that with --dtype float64).

Optimizers (torch.optim, single-tensor code path: foreach=False unless --optimizer-impl says
otherwise): --optimizer sgd (lr 0.01, momentum 0.5 as the tutorial; dampening, nesterov,
weight decay), adam and adamw (torch's defaults: lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay
0 for adam and 1e-2 for adamw).

Learning-rate schedules, epoch e counted from 0, global step s counted from 0 (the engine
implements exactly these; the script asserts that torch's scheduler classes give them):
  constant: lr(e) = lr
  step:     lr(e) = lr * gamma ** floor(e / step_size)           = StepLR stepped once per epoch
  cosine:   lr(e) = eta_min + (lr - eta_min) * (1 + cos(pi * e / T_max)) / 2
                                                                  = CosineAnnealingLR stepped once per epoch
  warm-up:  factor(s) = (s + 1) / W for s < W, else 1            = LinearLR(start_factor=1/W,
                                                                    total_iters=W-1) stepped per batch
  the step's lr = lr(e) * factor(s).

The IDX .gz files are read directly (gzip + struct, no torchvision) and held in memory as tensors;
batches are sliced from those tensors (no DataLoader).  Shuffling reproduces
DataLoader(shuffle=True)'s random stream exactly: per epoch, the DataLoader iterator first draws a
base seed from the global RNG, then RandomSampler draws a seed from the global RNG, seeds a fresh
torch.Generator with it and takes torch.randperm(N, generator=g).

Weights are read/written as safetensors (written by hand here: no safetensors package) with
PyTorch names l1.weight [out, in], l1.bias [out], ..., F32 (F64 for a float64 run).

Only torch and the Python standard library are used (no numpy: the GPU machine may lack it).
"""

import argparse
import contextlib
import gzip
import hashlib
import inspect
import json
import math
import os
import platform
import shlex
import struct
import sys
import time
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN = 0.1307
STD = 0.3081
PYTHON = "/usr/bin/python3"
SCRIPT = "scripts/torch_reference.py"

if sys.byteorder != "little":
    raise SystemExit("safetensors and IDX handling here assume a little-endian host")


def die(msg):
    """One `error:` line and exit 2, as the engine's CLI does."""
    print("error: %s" % msg, file=sys.stderr)
    sys.exit(2)


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
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def build_model(args):
    """Seeded default init (torch.manual_seed(seed), layers in order), or --init's weights."""
    sizes = [int(s) for s in args.layers.split(",")]
    if sizes[0] != 784:
        die("first layer size must be 784")
    torch.manual_seed(args.seed)
    model = Net(sizes)
    if args.init:
        tensors, _ = load_safetensors(args.init)
        sd = model.state_dict()
        missing = set(sd) - set(tensors)
        extra = set(tensors) - set(sd)
        if missing or extra:
            die("init mismatch: missing %s, unexpected %s" % (sorted(missing), sorted(extra)))
        for k in sd:
            if tuple(tensors[k].shape) != tuple(sd[k].shape):
                die("%s: shape %s != %s" % (k, tuple(tensors[k].shape), tuple(sd[k].shape)))
        model.load_state_dict(tensors)
    return model


def evaluate(model, x, y, chunk=1000):
    model.eval()
    correct = torch.zeros((), dtype=torch.int64, device=x.device)
    with torch.no_grad():
        for i in range(0, x.shape[0], chunk):
            pred = model(x[i:i + chunk]).argmax(dim=1)
            correct += (pred == y[i:i + chunk]).sum()
    model.train()
    return int(correct.item()), x.shape[0]


def epoch_permutation(n):
    """Exactly what one `for batch in DataLoader(ds, shuffle=True)` epoch draws from the global RNG:
    _BaseDataLoaderIter.__init__ draws _base_seed, then RandomSampler.__iter__ draws a seed for a
    fresh Generator and takes randperm(n)."""
    torch.empty((), dtype=torch.int64).random_().item()
    s = int(torch.empty((), dtype=torch.int64).random_().item())
    g = torch.Generator()
    g.manual_seed(s)
    return torch.randperm(n, generator=g)


# --------------------------------------------------------------------------
# Optimizers
# --------------------------------------------------------------------------

OPTIMIZER_DEFAULTS = {
    "sgd": dict(lr=0.01, momentum=0.5, dampening=0.0, nesterov=False, weight_decay=0.0),
    "adam": dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0),
    "adamw": dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2),
}


def optimizer_config(args):
    """The optimizer's hyper-parameters with torch's defaults filled in, in the engine's (camelCase)
    names, as the manifest records them. A flag that the optimizer does not have is an error."""
    kind = args.optimizer
    defaults = OPTIMIZER_DEFAULTS[kind]
    given = {k: getattr(args, k) for k in ("lr", "momentum", "dampening", "nesterov", "beta1", "beta2", "eps", "weight_decay")}
    for k, v in given.items():
        if v is not None and k not in defaults:
            die("--%s does not apply to --optimizer %s" % (k.replace("_", "-"), kind))
    h = {k: (given[k] if given[k] is not None else d) for k, d in defaults.items()}
    if not (h["lr"] > 0 and math.isfinite(h["lr"])):
        die("--lr must be a positive number, got %r" % h["lr"])
    if h["weight_decay"] < 0:
        die("--weight-decay must be >= 0, got %r" % h["weight_decay"])
    if kind == "sgd":
        if not 0 <= h["momentum"] < 1 or not 0 <= h["dampening"] <= 1:
            die("--momentum must be in [0, 1) and --dampening in [0, 1]")
        if h["nesterov"] and (h["momentum"] <= 0 or h["dampening"] != 0):
            die("--nesterov needs --momentum > 0 and --dampening 0")
        return {"kind": kind, "lr": h["lr"], "momentum": h["momentum"], "dampening": h["dampening"],
                "nesterov": bool(h["nesterov"]), "weightDecay": h["weight_decay"]}
    if not (0 <= h["beta1"] < 1 and 0 <= h["beta2"] < 1 and h["eps"] > 0):
        die("--beta1 and --beta2 must be in [0, 1) and --eps > 0")
    return {"kind": kind, "lr": h["lr"], "betas": [h["beta1"], h["beta2"]], "eps": h["eps"], "weightDecay": h["weight_decay"]}


def make_optimizer(params, cfg, impl="single", capturable=False):
    """torch.optim.{SGD,Adam,AdamW} for cfg. impl: single = foreach=False (the single-tensor code
    path, the reference), foreach = foreach=True, fused = fused=True, auto = torch's default.
    capturable: Adam/AdamW's CUDA-graph-safe variant (step count on the device)."""
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[cfg["kind"]]
    accepted = inspect.signature(cls.__init__).parameters
    if cfg["kind"] == "sgd":
        kw = dict(lr=cfg["lr"], momentum=cfg["momentum"], dampening=cfg["dampening"],
                  nesterov=cfg["nesterov"], weight_decay=cfg["weightDecay"])
    else:
        kw = dict(lr=cfg["lr"], betas=tuple(cfg["betas"]), eps=cfg["eps"], weight_decay=cfg["weightDecay"])
    if impl in ("single", "foreach") and "foreach" in accepted:
        kw["foreach"] = impl == "foreach"
    elif impl == "fused":
        if "fused" not in accepted:
            die("torch %s has no fused %s" % (torch.__version__, cls.__name__))
        kw["fused"] = True
    if capturable and "capturable" in accepted:
        kw["capturable"] = True
    return cls(params, **kw)


# --------------------------------------------------------------------------
# Learning-rate schedules
# --------------------------------------------------------------------------

class Schedule:
    """The closed forms of the module docstring (what the engine implements)."""

    def __init__(self, kind, base_lr, step_size=1, gamma=0.1, t_max=1, eta_min=0.0, warmup_steps=0):
        self.kind, self.base_lr = kind, base_lr
        self.step_size, self.gamma, self.t_max, self.eta_min = step_size, gamma, t_max, eta_min
        self.warmup_steps = warmup_steps

    @classmethod
    def from_args(cls, args, base_lr, epochs):
        if args.lr_step_size < 1 or args.lr_gamma <= 0 or args.warmup_steps < 0:
            die("--lr-step-size must be >= 1, --lr-gamma > 0 and --warmup-steps >= 0")
        t_max = args.lr_t_max if args.lr_t_max is not None else epochs
        if args.lr_schedule == "cosine" and t_max < 1:
            die("--lr-t-max must be >= 1")
        if args.lr_eta_min < 0:
            die("--lr-eta-min must be >= 0")
        return cls(args.lr_schedule, base_lr, args.lr_step_size, args.lr_gamma, t_max, args.lr_eta_min, args.warmup_steps)

    def epoch_lr(self, e):
        if self.kind == "step":
            return self.base_lr * self.gamma ** (e // self.step_size)
        if self.kind == "cosine":
            return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * e / self.t_max)) / 2
        return self.base_lr

    def warm_factor(self, s):
        return (s + 1) / self.warmup_steps if s < self.warmup_steps else 1.0

    def lr(self, s, e):
        return self.epoch_lr(e) * self.warm_factor(s)

    def describe(self):
        d = {"kind": self.kind}
        if self.kind == "step":
            d.update(stepSize=self.step_size, gamma=self.gamma)
        elif self.kind == "cosine":
            d.update(tMax=self.t_max, etaMin=self.eta_min)
        d["warmupSteps"] = self.warmup_steps
        return d


def _close(a, b, scale):
    return abs(a - b) <= 1e-12 * abs(scale) + 1e-300


class ScheduleDriver:
    """Drives torch's own scheduler classes and checks them against Schedule's closed forms.
    One schedule alone: the torch scheduler is attached to the real optimizer. Warm-up with an epoch
    schedule: each runs on a shadow optimizer (torch's chainable schedulers do not compose so for
    cosine), the real param group's lr is set to the product, and each factor is asserted alone."""

    def __init__(self, optimizer, sched):
        self.optimizer, self.sched = optimizer, sched
        self.has_epoch = sched.kind != "constant"
        self.has_warm = sched.warmup_steps > 1  # W = 1: factor (0+1)/1 = 1, nothing to do
        self.epoch_opt = self.warm_opt = None
        self.epoch_sched = self.warm_sched = None
        if not (self.has_epoch or self.has_warm):
            return
        shadow = self.has_epoch and self.has_warm
        if self.has_epoch:
            self.epoch_opt = self._shadow(sched.base_lr) if shadow else optimizer
            if sched.kind == "step":
                self.epoch_sched = torch.optim.lr_scheduler.StepLR(self.epoch_opt, step_size=sched.step_size, gamma=sched.gamma)
            else:
                self.epoch_sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.epoch_opt, T_max=sched.t_max, eta_min=sched.eta_min)
        if self.has_warm:
            self.warm_opt = self._shadow(1.0) if shadow else optimizer
            w = sched.warmup_steps
            self.warm_sched = torch.optim.lr_scheduler.LinearLR(self.warm_opt, start_factor=1.0 / w, end_factor=1.0, total_iters=w - 1)
        self.shadow = shadow

    @staticmethod
    def _shadow(lr):
        return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)

    def lr_before_step(self, s, e):
        """The lr step s (in epoch e) uses; sets it where torch cannot, asserts it everywhere."""
        group = self.optimizer.param_groups[0]
        if not (self.has_epoch or self.has_warm):
            return group["lr"]
        want_epoch = self.sched.epoch_lr(e)
        want_warm = self.sched.warm_factor(s)
        if self.shadow:
            got_epoch = self.epoch_opt.param_groups[0]["lr"]
            got_warm = self.warm_opt.param_groups[0]["lr"]
            assert _close(got_epoch, want_epoch, self.sched.base_lr), (s, e, got_epoch, want_epoch)
            assert _close(got_warm, want_warm, 1.0), (s, e, got_warm, want_warm)
            for g in self.optimizer.param_groups:
                g["lr"] = got_epoch * got_warm
        want = want_epoch * want_warm
        assert _close(group["lr"], want, self.sched.base_lr), (s, e, group["lr"], want)
        return group["lr"]

    def after_batch(self):
        if self.warm_sched is not None:
            if self.shadow:
                self.warm_opt.step()  # no gradients: a no-op that keeps torch's step-order check quiet
            self.warm_sched.step()

    def after_epoch(self):
        if self.epoch_sched is not None:
            if self.shadow:
                self.epoch_opt.step()
            self.epoch_sched.step()


# --------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------

def default_data_dir():
    return os.environ.get("MNIST_DIR") or "data/mnist"


def build_parser():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--data", default=default_data_dir(), help="dir with MNIST IDX (.gz) files (default $MNIST_DIR, else data/mnist)")
    ap.add_argument("--layers", default="784,512,256,128,64,10")
    ap.add_argument("--init", help="load initial weights from this .safetensors")
    ap.add_argument("--save-init", help="write the initial weights to this .safetensors")
    ap.add_argument("--seed", type=int, default=1, help="torch.manual_seed (init and shuffling)")
    ap.add_argument("--steps", type=int, default=0, help="stop after K optimizer steps (0 = no limit)")
    ap.add_argument("--epochs", type=int, default=None, help="default 1 (10 for --device cuda / --bench)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--train-subset", type=int, default=0, help="train on the first N training samples only (0 = all)")
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                    help="float64: model, inputs (the float32 inputs cast) and optimizer state in double")
    ap.add_argument("--optimizer", choices=("sgd", "adam", "adamw"), default="sgd")
    ap.add_argument("--optimizer-impl", choices=("single", "foreach", "fused", "auto"), default=None,
                    help="torch.optim code path: single (foreach=False, default on the CPU), foreach, fused, "
                         "auto (torch's default; default for --device cuda)")
    ap.add_argument("--lr", type=float, default=None, help="sgd 0.01, adam/adamw 1e-3")
    ap.add_argument("--momentum", type=float, default=None, help="sgd: 0.5")
    ap.add_argument("--dampening", type=float, default=None, help="sgd: 0")
    ap.add_argument("--nesterov", action="store_const", const=True, default=None, help="sgd: Nesterov momentum")
    ap.add_argument("--beta1", type=float, default=None, help="adam/adamw: 0.9")
    ap.add_argument("--beta2", type=float, default=None, help="adam/adamw: 0.999")
    ap.add_argument("--eps", type=float, default=None, help="adam/adamw: 1e-8")
    ap.add_argument("--weight-decay", type=float, default=None, help="sgd/adam 0 (L2, added to the gradient), adamw 1e-2 (decoupled)")
    ap.add_argument("--lr-schedule", choices=("constant", "step", "cosine"), default="constant")
    ap.add_argument("--lr-step-size", type=int, default=1, help="step: epochs between decays")
    ap.add_argument("--lr-gamma", type=float, default=0.1, help="step: decay factor")
    ap.add_argument("--lr-t-max", type=int, default=None, help="cosine: T_max in epochs (default the run's epoch count)")
    ap.add_argument("--lr-eta-min", type=float, default=0.0, help="cosine: eta_min")
    ap.add_argument("--warmup-steps", type=int, default=0, help="linear warm-up over the first W batches: factor (s+1)/W")
    ap.add_argument("--no-shuffle", action="store_true",
                    help="batch i = samples [i*B, (i+1)*B) in file order, last partial batch kept")
    ap.add_argument("--save", help="write the weights after training to this .safetensors")
    ap.add_argument("--loss-log", help="write each step's loss (JSON array of numbers)")
    ap.add_argument("--eval", action="store_true", help="evaluate on the test set even when --steps stops mid-epoch")
    ap.add_argument("--no-eval", action="store_true", help="never evaluate (golden runs)")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0 = leave)")
    ap.add_argument("--log-interval", type=int, default=300)
    ap.add_argument("--make-golden", metavar="DIR", help="write every optimizer golden case and DIR/optimizers.json")
    ap.add_argument("--verify-golden", metavar="DIR", help="replay DIR/optimizers.json's cases with hand-written rules, in float64")
    ap.add_argument("--device", choices=("cpu", "cuda"), default=None, help="cuda: the timing run on the GPU (implies --bench)")
    ap.add_argument("--bench", action="store_true", help="the timing run (data on --device, eager and/or CUDA graph)")
    ap.add_argument("--modes", default=None, help="timing modes, comma-separated: eager,graph (default both on cuda, eager on cpu)")
    ap.add_argument("--out", help="timing run: also write the JSON lines to this file")
    return ap


# --------------------------------------------------------------------------
# Reference training (CPU) and golden runs
# --------------------------------------------------------------------------

def setup_torch(args):
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.set_default_dtype(torch.float32)


def train_reference(args, quiet=False):
    """The tutorial loop; returns {state, losses, lrs, steps, steps_per_epoch, epochs}."""
    setup_torch(args)
    epochs = args.epochs if args.epochs is not None else 1
    dtype = torch.float64 if args.dtype == "float64" else torch.float32
    cfg = optimizer_config(args)
    model = build_model(args)
    meta_common = {
        "torch_version": torch.__version__,
        "layers": args.layers,
        "seed": args.seed,
        "init": os.path.basename(args.init) if args.init else "nn.Linear default (manual_seed)",
    }
    if args.save_init:
        save_safetensors(args.save_init, state_tensors(model), dict(meta_common, what="init"))
    model = model.to(dtype)

    x_train, y_train = load_split(args.data, "train")
    x_test, y_test = load_split(args.data, "t10k")
    if args.train_subset:
        if not 0 < args.train_subset <= x_train.shape[0]:
            die("--train-subset must be in 1..%d" % x_train.shape[0])
        x_train, y_train = x_train[:args.train_subset], y_train[:args.train_subset]
    x_train, x_test = x_train.to(dtype), x_test.to(dtype)
    n = x_train.shape[0]
    B = args.batch_size
    nbatches = (n + B - 1) // B

    optimizer = make_optimizer(model.parameters(), cfg, args.optimizer_impl or "single")
    sched = Schedule.from_args(args, cfg["lr"], epochs)
    driver = ScheduleDriver(optimizer, sched)
    criterion = nn.CrossEntropyLoss()

    losses, lrs = [], []
    step = 0
    done = False
    model.train()
    for epoch in range(epochs):
        t0 = time.perf_counter()
        perm = None if args.no_shuffle else epoch_permutation(n)
        running = 0.0
        for batch_idx in range(nbatches):
            if perm is None:
                xb = x_train[batch_idx * B:(batch_idx + 1) * B]
                yb = y_train[batch_idx * B:(batch_idx + 1) * B]
            else:
                idx = perm[batch_idx * B:(batch_idx + 1) * B]
                xb = x_train.index_select(0, idx)
                yb = y_train.index_select(0, idx)
            lrs.append(driver.lr_before_step(step, epoch))
            optimizer.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            optimizer.step()
            driver.after_batch()
            step += 1
            lv = loss.item()
            losses.append(lv)
            running += lv
            if not quiet and batch_idx % args.log_interval == args.log_interval - 1:
                print("[%d, %5d] loss: %.3f" % (epoch + 1, batch_idx + 1, running / args.log_interval))
                running = 0.0
            if args.steps and step >= args.steps:
                done = True
                break
        finished_epoch = not done or batch_idx == nbatches - 1
        if finished_epoch:
            driver.after_epoch()
        if not quiet:
            dt = time.perf_counter() - t0
            print("epoch %d: %d steps, train time %.2f s" % (epoch + 1, batch_idx + 1, dt), file=sys.stderr)
        if not args.no_eval and (finished_epoch or args.eval):
            correct, total = evaluate(model, x_test, y_test)
            print("Accuracy on test set: %d %%" % (100 * correct // total))
            print("(test: %d / %d correct = %.2f %%)" % (correct, total, 100.0 * correct / total), file=sys.stderr)
        if done:
            break

    state = state_tensors(model)
    if args.save:
        save_safetensors(args.save, state, dict(
            meta_common, what="after %d steps" % step, steps=step, batch_size=B, dtype=args.dtype,
            train_subset=args.train_subset or x_train.shape[0], shuffle=not args.no_shuffle,
            optimizer=json.dumps(cfg, sort_keys=True), schedule=json.dumps(sched.describe(), sort_keys=True),
            # the SGD-only keys the first golden files had
            **({"lr": cfg["lr"], "momentum": cfg["momentum"]} if cfg["kind"] == "sgd" else {})))
    if args.loss_log:
        os.makedirs(os.path.dirname(os.path.abspath(args.loss_log)), exist_ok=True)
        with open(args.loss_log, "w") as f:
            # repr of a Python float holding the float32 (float64) value: round-trips exactly
            f.write("[" + ",\n".join(repr(float(v)) for v in losses) + "]\n")
    return dict(state=state, losses=losses, lrs=lrs, steps=step, steps_per_epoch=nbatches, epochs=epochs,
                optimizer=cfg, schedule=sched.describe(), n=n)


# --------------------------------------------------------------------------
# --make-golden: the optimizer golden cases and their manifest
# --------------------------------------------------------------------------

GOLDEN_INIT = "parity-init.safetensors"
GOLDEN_COMMON = "--layers 784,16,12,10 --batch-size 64 --no-shuffle --threads 1 --no-eval"

# name, the case's flags, and contrasts: the same case with one feature changed, to show that the
# golden file tells the feature apart (its change differs from the case's by far more than 1e-3).
GOLDEN_CASES = [
    ("adam", "--optimizer adam --epochs 1 --steps 15", [
        ("sgd lr 0.01 momentum 0.5 instead of adam", "--optimizer sgd --epochs 1 --steps 15")]),
    ("adam-wd", "--optimizer adam --weight-decay 0.01 --epochs 1 --steps 15", [
        ("without weight decay", "--optimizer adam --epochs 1 --steps 15"),
        ("adamw's decoupled decay instead of L2", "--optimizer adamw --weight-decay 0.01 --epochs 1 --steps 15")]),
    ("adam-betas-eps", "--optimizer adam --lr 0.002 --beta1 0.8 --beta2 0.99 --eps 0.0001 --epochs 1 --steps 15", [
        ("default betas", "--optimizer adam --lr 0.002 --eps 0.0001 --epochs 1 --steps 15"),
        ("default eps", "--optimizer adam --lr 0.002 --beta1 0.8 --beta2 0.99 --epochs 1 --steps 15")]),
    # AdamW's decay moves w by lr*wd*w a step, not normalised as Adam's step is: with the default
    # 1e-2 it changes the 15-step change by 5e-4, under the parity tolerance, so a larger one.
    ("adamw", "--optimizer adamw --weight-decay 0.3 --epochs 1 --steps 15", [
        ("without weight decay", "--optimizer adamw --weight-decay 0 --epochs 1 --steps 15")]),
    ("sgd-nesterov", "--optimizer sgd --lr 0.01 --momentum 0.9 --nesterov --epochs 1 --steps 15", [
        ("without nesterov", "--optimizer sgd --lr 0.01 --momentum 0.9 --epochs 1 --steps 15")]),
    ("sgd-dampening-wd", "--optimizer sgd --lr 0.01 --momentum 0.9 --dampening 0.3 --weight-decay 0.01 --epochs 1 --steps 30", [
        ("without dampening", "--optimizer sgd --lr 0.01 --momentum 0.9 --weight-decay 0.01 --epochs 1 --steps 30"),
        ("without weight decay", "--optimizer sgd --lr 0.01 --momentum 0.9 --dampening 0.3 --epochs 1 --steps 30")]),
    ("sgd-step", "--optimizer sgd --lr 0.05 --momentum 0.5 --lr-schedule step --lr-step-size 2 --lr-gamma 0.5 "
     "--train-subset 192 --epochs 6 --steps 18", [
         ("constant lr", "--optimizer sgd --lr 0.05 --momentum 0.5 --train-subset 192 --epochs 6 --steps 18")]),
    ("adam-cosine", "--optimizer adam --lr 0.005 --lr-schedule cosine --lr-t-max 5 --lr-eta-min 0.0001 "
     "--train-subset 160 --epochs 5 --steps 15", [
         ("constant lr", "--optimizer adam --lr 0.005 --train-subset 160 --epochs 5 --steps 15")]),
    ("adamw-warmup-cosine", "--optimizer adamw --lr 0.005 --lr-schedule cosine --lr-t-max 4 --warmup-steps 6 "
     "--train-subset 256 --epochs 4 --steps 16", [
         ("without warm-up", "--optimizer adamw --lr 0.005 --lr-schedule cosine --lr-t-max 4 --train-subset 256 --epochs 4 --steps 16"),
         ("warm-up, constant lr", "--optimizer adamw --lr 0.005 --warmup-steps 6 --train-subset 256 --epochs 4 --steps 16")]),
]


def rel_change(init, ours, ref):
    """‖Δours − Δref‖ / ‖Δref‖ with Δ = tensor − init, in float64 (as test/parity.test.ts measures)."""
    a = ours.double() - init.double()
    b = ref.double() - init.double()
    return float((a - b).norm() / b.norm())


def json_text(value, indent=""):
    """JSON, indented, with lists of numbers and short objects kept on one line (readable diffs)."""
    flat = json.dumps(value, ensure_ascii=False)
    if not isinstance(value, (dict, list)) or len(flat) <= 100 or (
            isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value)):
        return flat
    inner = indent + "  "
    if isinstance(value, list):
        return "[\n" + ",\n".join(inner + json_text(v, inner) for v in value) + "\n" + indent + "]"
    return "{\n" + ",\n".join("%s%s: %s" % (inner, json.dumps(k, ensure_ascii=False), json_text(v, inner))
                              for k, v in value.items()) + "\n" + indent + "}"


def make_golden(args):
    out = args.make_golden
    init_path = os.path.join(out, GOLDEN_INIT)
    if not os.path.exists(init_path):
        die("%s is missing (make it first: test/golden/README.md)" % init_path)
    init, _ = load_safetensors(init_path)
    parser = build_parser()
    data_args = ["--data", args.data]

    def run(flags):
        return train_reference(parser.parse_args(data_args + shlex.split(flags)), quiet=True)

    cases = []
    for name, flags, contrasts in GOLDEN_CASES:
        steps = int(flags.split("--steps ")[1].split()[0])
        files = {
            "after": "optim-%s-after-%d.safetensors" % (name, steps),
            "losses": "optim-%s-losses-%d.json" % (name, steps),
            "afterF64": "optim-%s-f64-after-%d.safetensors" % (name, steps),
            "lossesF64": "optim-%s-f64-losses-%d.json" % (name, steps),
        }
        base = "%s --init %s %s" % (GOLDEN_COMMON, init_path, flags)
        cmd32 = "%s --save %s --loss-log %s" % (base, os.path.join(out, files["after"]), os.path.join(out, files["losses"]))
        cmd64 = "%s --dtype float64 --save %s --loss-log %s" % (
            base, os.path.join(out, files["afterF64"]), os.path.join(out, files["lossesF64"]))
        r32, r64 = run(cmd32), run(cmd64)
        if r32["steps"] != steps or r64["steps"] != steps:
            die("%s: ran %d steps, wanted %d" % (name, r32["steps"], steps))
        if r32["lrs"] != r64["lrs"]:
            die("%s: float32 and float64 runs used different learning rates" % name)
        spread = {k: rel_change(init[k], r32["state"][k], r64["state"][k]) for k in init}
        contrast_out = []
        for what, cflags in contrasts:
            rc = run("%s --init %s %s" % (GOLDEN_COMMON, init_path, cflags))
            per = {k: rel_change(init[k], rc["state"][k], r32["state"][k]) for k in init}
            contrast_out.append({"what": what, "flags": cflags, "changeRelL2": per, "min": min(per.values())})
        cases.append({
            "name": name,
            "optimizer": r32["optimizer"],
            "schedule": r32["schedule"],
            "steps": steps,
            "batchSize": 64,
            "trainSubset": r32["n"],
            "epochs": r32["epochs"],
            "stepsPerEpoch": r32["steps_per_epoch"],
            "shuffle": False,
            "init": GOLDEN_INIT,
            "files": files,
            "lrPerStep": r32["lrs"],
            "spread": {
                "changeRelL2": spread,
                "max": max(spread.values()),
                "lossMaxAbs": max(abs(a - b) for a, b in zip(r32["losses"], r64["losses"])),
            },
            "contrasts": contrast_out,
            "commands": {"float32": "%s %s %s" % (PYTHON, SCRIPT, cmd32), "float64": "%s %s %s" % (PYTHON, SCRIPT, cmd64)},
        })
        print("%-20s spread max %.2e  loss %.1e  contrasts min %s" % (
            name, cases[-1]["spread"]["max"], cases[-1]["spread"]["lossMaxAbs"],
            ", ".join("%.2e" % c["min"] for c in contrast_out)), file=sys.stderr)

    manifest = {
        "format": 1,
        "about": "PyTorch golden cases for the optimizers and learning-rate schedules; test/golden/README.md describes every field",
        "remake": "%s %s --make-golden %s" % (PYTHON, SCRIPT, out),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "mnist": {
            "train-images-idx3-ubyte.gz": file_md5(find_file(args.data, "train-images-idx3-ubyte")),
            "train-labels-idx1-ubyte.gz": file_md5(find_file(args.data, "train-labels-idx1-ubyte")),
        },
        "model": {"layers": [784, 16, 12, 10], "init": GOLDEN_INIT, "loss": "CrossEntropyLoss (mean over the batch)",
                  "normalization": {"mean": MEAN, "std": STD}},
        "spreadMetric": "per tensor: |Δ32 − Δ64|₂ / |Δ64|₂ with Δ = after − init (float32 run vs the float64 run "
                        "of the same case from the same float32 init and inputs); max: over tensors",
        "cases": cases,
    }
    path = os.path.join(out, "optimizers.json")
    with open(path, "w", encoding="utf-8") as f:
        f.write(json_text(manifest) + "\n")
    print("wrote %s (%d cases)" % (path, len(cases)), file=sys.stderr)


def verify_golden(args):
    """Replays every case of DIR/optimizers.json with the update rules written out by hand (the
    rules test/golden/README.md documents, not torch.optim) and the closed-form schedule, in
    float64, and compares with the float64 golden files: the README's rules are torch's."""
    out = args.verify_golden
    with open(os.path.join(out, "optimizers.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    torch.set_default_dtype(torch.float64)
    x_all, y_all = load_split(args.data, "train")
    worst = 0.0
    for c in manifest["cases"]:
        init, _ = load_safetensors(os.path.join(out, c["init"]))
        ref, _ = load_safetensors(os.path.join(out, c["files"]["afterF64"]))
        with open(os.path.join(out, c["files"]["lossesF64"])) as f:
            ref_losses = json.load(f)
        names = list(init)
        w = [init[k].double().clone() for k in names]
        o, sc = c["optimizer"], c["schedule"]
        sched = Schedule(sc["kind"], o["lr"], sc.get("stepSize", 1), sc.get("gamma", 0.1), sc.get("tMax", 1),
                         sc.get("etaMin", 0.0), sc["warmupSteps"])
        x, y = x_all[:c["trainSubset"]].double(), y_all[:c["trainSubset"]]
        B, n = c["batchSize"], c["trainSubset"]
        state = [dict() for _ in w]
        losses = []
        for s in range(c["steps"]):
            e, b = divmod(s, c["stepsPerEpoch"])
            xb, yb = x[b * B:(b + 1) * B], y[b * B:(b + 1) * B]
            lr = sched.lr(s, e)
            assert _close(lr, c["lrPerStep"][s], o["lr"]), (c["name"], s, lr, c["lrPerStep"][s])
            params = [t.clone().requires_grad_(True) for t in w]
            h = xb
            for i in range(0, len(params) - 2, 2):
                h = torch.relu(h @ params[i].t() + params[i + 1])
            loss = F.cross_entropy(h @ params[-2].t() + params[-1], yb)
            grads = torch.autograd.grad(loss, params)
            losses.append(loss.item())
            t = s + 1
            for i, (p, g) in enumerate(zip(w, grads)):
                st = state[i]
                if o["kind"] == "sgd":
                    if o["weightDecay"]:
                        g = g + o["weightDecay"] * p
                    if o["momentum"]:
                        # first step: buf = g (no dampening); then buf = momentum*buf + (1-dampening)*g
                        st["buf"] = g.clone() if "buf" not in st else o["momentum"] * st["buf"] + (1 - o["dampening"]) * g
                        g = g + o["momentum"] * st["buf"] if o["nesterov"] else st["buf"]
                    w[i] = p - lr * g
                else:
                    b1, b2 = o["betas"]
                    if o["kind"] == "adamw":
                        p = p * (1 - lr * o["weightDecay"])  # decoupled, with this step's lr
                    elif o["weightDecay"]:
                        g = g + o["weightDecay"] * p  # L2, into the gradient (and so into both moments)
                    st["m"] = b1 * st.get("m", torch.zeros_like(p)) + (1 - b1) * g
                    st["v"] = b2 * st.get("v", torch.zeros_like(p)) + (1 - b2) * g * g
                    denom = st["v"].sqrt() / math.sqrt(1 - b2 ** t) + o["eps"]  # eps after the square root
                    w[i] = p - (lr / (1 - b1 ** t)) * st["m"] / denom
        err = max(rel_change(init[k], w[i], ref[k]) for i, k in enumerate(names))
        lerr = max(abs(a - b) for a, b in zip(losses, ref_losses))
        worst = max(worst, err)
        print("%-20s by-hand float64 vs torch float64: change rel err %.1e, loss %.1e" % (c["name"], err, lerr), file=sys.stderr)
        if err > 1e-9 or lerr > 1e-12:
            die("%s: the hand-written rules disagree with torch.optim" % c["name"])
    print("all %d cases agree (worst %.1e)" % (len(manifest["cases"]), worst), file=sys.stderr)


# --------------------------------------------------------------------------
# Timing run: --device cuda (or --bench on the CPU)
# --------------------------------------------------------------------------

def matmul_precision():
    try:
        return torch.get_float32_matmul_precision()
    except Exception:  # an API that a later torch may drop; the figure is informative only
        return None


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class BenchRun:
    """One process, several modes, each from the same init and the same shuffle stream."""

    def __init__(self, args):
        self.args = args
        self.device = torch.device(args.device or "cpu")
        if self.device.type == "cuda" and not torch.cuda.is_available():
            die("--device cuda: torch %s sees no CUDA device" % torch.__version__)
        setup_torch(args)
        self.epochs = args.epochs if args.epochs is not None else 10
        if args.dtype != "float32":
            die("the timing run is float32 only")
        self.cfg = optimizer_config(args)
        self.impl = args.optimizer_impl or ("auto" if self.device.type == "cuda" else "single")
        model = build_model(args)
        self.init_state = state_tensors(model)
        self.rng_state = torch.get_rng_state()  # after init: the shuffle stream of the reference run
        self.model = model.to(self.device)
        x_train, y_train = load_split(args.data, "train")
        x_test, y_test = load_split(args.data, "t10k")
        if args.train_subset:
            x_train, y_train = x_train[:args.train_subset], y_train[:args.train_subset]
        # the whole data set lives on the device; batches are sliced (or gathered) there
        self.x_train, self.y_train = x_train.to(self.device), y_train.to(self.device)
        self.x_test, self.y_test = x_test.to(self.device), y_test.to(self.device)
        self.n = self.x_train.shape[0]
        self.B = args.batch_size
        self.nbatches = (self.n + self.B - 1) // self.B
        self.criterion = nn.CrossEntropyLoss()

    def reset(self):
        torch.set_rng_state(self.rng_state)
        with torch.no_grad():
            for k, v in self.model.state_dict().items():
                v.copy_(self.init_state[k])

    def epoch_data(self):
        if self.args.no_shuffle:
            return self.x_train, self.y_train
        perm = epoch_permutation(self.n).to(self.device)
        return self.x_train.index_select(0, perm), self.y_train.index_select(0, perm)

    def batches(self):
        """(epoch, batch index, start, size) of every step, --steps included."""
        step = 0
        for epoch in range(self.epochs):
            for b in range(self.nbatches):
                yield epoch, b, b * self.B, min(self.B, self.n - b * self.B)
                step += 1
                if self.args.steps and step >= self.args.steps:
                    return

    def batch_sizes(self):
        """Full batches, and the last partial batch if the data set has one (a graph per size)."""
        return sorted({self.B} | ({self.n % self.B} if self.n % self.B else set()), reverse=True)

    def warm_up(self, opt, static, stream):
        """3 steps per batch size (lazy cuBLAS/allocator state, the optimizer's state tensors), then
        the weights put back, so that the timed run starts from the init; not timed."""
        model = self.model
        params = list(model.parameters())
        saved = [p.detach().clone() for p in params]
        with (torch.cuda.stream(stream) if stream is not None else contextlib.nullcontext()), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # capturable=True running uncaptured
            for s, (xs, ys) in static.items():
                for _ in range(3):
                    opt.zero_grad(set_to_none=True)
                    self.criterion(model(xs), ys).backward()
                    opt.step()
        if stream is not None:
            torch.cuda.current_stream().wait_stream(stream)
        with torch.no_grad():
            for p, v in zip(params, saved):
                p.copy_(v)

    def run_eager(self):
        self.reset()
        opt = make_optimizer(self.model.parameters(), self.cfg, self.impl)
        t0 = time.perf_counter()
        self.warm_up(opt, {s: (self.x_train[:s], self.y_train[:s]) for s in self.batch_sizes()}, None)
        opt.state.clear()  # fresh optimizer state, exactly as a new optimizer's
        sync(self.device)
        setup_s = time.perf_counter() - t0
        driver = ScheduleDriver(opt, Schedule.from_args(self.args, self.cfg["lr"], self.epochs))
        return self._loop(opt, driver, graphs=None, setup_s=setup_s)

    def run_graph(self):
        if self.device.type != "cuda":
            die("mode graph needs --device cuda")
        if self.args.lr_schedule != "constant" or self.args.warmup_steps > 1:
            die("mode graph bakes the lr into the graph: use a constant lr (or mode eager)")
        self.reset()
        model, dev = self.model, self.device
        opt = make_optimizer(model.parameters(), self.cfg, self.impl, capturable=True)
        sizes = self.batch_sizes()
        # static input/label buffers: each step copies its batch into them, then replays
        static = {s: (self.x_train[:s].clone(), self.y_train[:s].clone()) for s in sizes}
        self.loss_sum = torch.zeros((), device=dev)
        t0 = time.perf_counter()
        side = torch.cuda.Stream()  # warm-up before capture runs on a side stream (torch.cuda.graphs docs)
        side.wait_stream(torch.cuda.current_stream())
        self.warm_up(opt, static, side)
        with torch.no_grad():
            # The state must exist before capture (the graph updates it in place), so it is zeroed,
            # not dropped: zero = fresh for Adam/AdamW (step 0, zero moments) and for SGD with
            # dampening 0 (buf = momentum*0 + grad is the gradient, as torch's first step takes it).
            for st in opt.state.values():
                for v in st.values():
                    if torch.is_tensor(v):
                        v.zero_()
        # One graph per batch size, each the whole step: forward, loss, backward, optimizer step.
        graphs = {}
        for s in sizes:
            opt.zero_grad(set_to_none=True)  # backward allocates .grad from the graph's pool
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                loss = self.criterion(model(static[s][0]), static[s][1])
                loss.backward()
                opt.step()
                self.loss_sum.add_(loss.detach())
            graphs[s] = g
        sync(dev)
        setup_s = time.perf_counter() - t0
        return self._loop(opt, None, graphs=(graphs, static), setup_s=setup_s)

    def _loop(self, opt, driver, graphs, setup_s):
        dev, model, crit = self.device, self.model, self.criterion
        loss_sum = self.loss_sum if graphs else torch.zeros((), device=dev)
        epoch_losses, epoch_marks = [], []
        steps = 0
        cur_epoch, xe, ye, count = -1, None, None, 0

        def close_epoch():
            loss_sum_v = loss_sum.item()  # synchronizes: once per epoch
            epoch_losses.append(loss_sum_v / count)
            epoch_marks.append(time.perf_counter())

        sync(dev)
        t0 = time.perf_counter()
        for epoch, b, start, size in self.batches():
            if epoch != cur_epoch:
                if cur_epoch >= 0:
                    close_epoch()
                cur_epoch, count = epoch, 0
                loss_sum.zero_()
                xe, ye = self.epoch_data()
                if driver is not None and epoch > 0:
                    driver.after_epoch()
            if graphs is None:
                driver.lr_before_step(steps, epoch)
                opt.zero_grad(set_to_none=True)
                loss = crit(model(xe[start:start + size]), ye[start:start + size])
                loss.backward()
                opt.step()
                driver.after_batch()
                loss_sum.add_(loss.detach())
            else:
                g, static = graphs
                static[size][0].copy_(xe[start:start + size])
                static[size][1].copy_(ye[start:start + size])
                g[size].replay()
            steps += 1
            count += 1
        close_epoch()
        sync(dev)
        seconds = time.perf_counter() - t0
        correct, total = evaluate(model, self.x_test, self.y_test, chunk=10000)
        marks = [t0] + epoch_marks
        epoch_seconds = [b - a for a, b in zip(marks, marks[1:])]
        steady = None
        if len(epoch_seconds) > 1:  # epochs after the first, which pays for lazy initialisation
            steady = 1e6 * sum(epoch_seconds[1:]) / (steps - self.nbatches)
        return {
            "steps": steps,
            "seconds": seconds,
            "per_step_us": 1e6 * seconds / steps,
            "steady_per_step_us": steady,
            "epoch_seconds": epoch_seconds,
            "epoch_mean_loss": epoch_losses,
            "setup_seconds": setup_s,
            "test_acc": correct / total,
        }

    def device_name(self):
        if self.device.type == "cuda":
            return torch.cuda.get_device_name(self.device)
        return "cpu (%s, %d threads)" % (platform.processor() or platform.machine(), torch.get_num_threads())


def run_bench(args):
    bench = BenchRun(args)
    cuda = bench.device.type == "cuda"
    modes = (args.modes or ("eager,graph" if cuda else "eager")).split(",")
    for m in modes:
        if m not in ("eager", "graph"):
            die("--modes: unknown mode %r (eager, graph)" % m)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        open(args.out, "w").close()
    for mode in modes:
        r = bench.run_eager() if mode == "eager" else bench.run_graph()
        line = {
            "device": bench.device_name(),
            "torch": torch.__version__,
            "mode": mode,
            "epochs": r["steps"] / bench.nbatches,
            "seconds": round(r["seconds"], 4),
            "per_step_us": round(r["per_step_us"], 2),
            "test_acc": r["test_acc"],
            "steady_per_step_us": None if r["steady_per_step_us"] is None else round(r["steady_per_step_us"], 2),
            "steps": r["steps"],
            "batch_size": bench.B,
            "train_samples": bench.n,
            "layers": args.layers,
            "optimizer": bench.cfg,
            "optimizer_impl": bench.impl,
            "shuffle": not args.no_shuffle,
            "setup_seconds": round(r["setup_seconds"], 4),  # warm-up (+ capture), not timed
            "epoch_seconds": [round(s, 4) for s in r["epoch_seconds"]],
            "epoch_mean_loss": [round(v, 6) for v in r["epoch_mean_loss"]],
            "float32_matmul_precision": matmul_precision(),
            "cuda": torch.version.cuda if cuda else None,
        }
        text = json.dumps(line)
        print(text, flush=True)
        if args.out:
            with open(args.out, "a") as f:  # each mode as it finishes: a later timeout keeps it
                f.write(text + "\n")


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.make_golden:
        make_golden(args)
    elif args.verify_golden:
        verify_golden(args)
    elif args.device == "cuda" or args.bench:
        run_bench(args)
    else:
        train_reference(args)


if __name__ == "__main__":
    main()
