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

import os
import sys

# scripts/ first on sys.path, so that `torchref` imports from any working directory (a script's
# own directory is there already when run as a file; this also covers importing this file).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from torchref.args import build_parser  # noqa: E402
from torchref.cuda_bench import run_bench  # noqa: E402
from torchref.golden import make_golden, verify_golden  # noqa: E402
from torchref.train import train_reference  # noqa: E402

# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def main(argv=None):
    args = build_parser(__doc__).parse_args(argv)
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
