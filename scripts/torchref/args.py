"""The command-line flags."""

import argparse
import os

# --------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------

def default_data_dir():
    return os.environ.get("MNIST_DIR") or "data/mnist"


def build_parser(doc=None):
    """doc: the entry point's docstring, for --help (its first paragraph the description, the rest
    the epilog); without it (--make-golden's own runs) the flags parse the same."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0] if doc else None,
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=doc.split("\n\n", 1)[1] if doc else None)
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
